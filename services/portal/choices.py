"""The portal's fixed choices and labels: demographic options, counties, the registration steps, program statuses.

Labels are message ids, translated where they are shown (in the reader's language)."""
from __future__ import annotations

from services.clinic.common import SCREENING_QUESTIONS
from services.core.i18n import marked as _

# Option values are stored; their labels are message ids translated on the page.
SEX_OPTIONS = {'female': _('Female'), 'male': _('Male'), 'other': _('Other'), 'unknown': _('Prefer not to say')}
RACE_OPTIONS = {
    'american_indian': _('American Indian or Alaska Native'), 'asian': _('Asian'),
    'black': _('Black or African American'), 'pacific_islander': _('Native Hawaiian or Other Pacific Islander'),
    'white': _('White'), 'other': _('Other race'), 'unknown': _('Prefer not to say'),
}
ETHNICITY_OPTIONS = {'hispanic': _('Hispanic or Latino'), 'not_hispanic': _('Not Hispanic or Latino'),
                     'unknown': _('Prefer not to say')}
PREFERRED_LANGUAGE_OPTIONS = {'en': _('English'), 'es': _('Spanish'), 'other': _('Other language')}
ANSWER_OPTIONS = {'yes': _('Yes'), 'no': _('No')}
HEALTH_ANSWER_OPTIONS = {'yes': _('Yes'), 'no': _('No'), 'unknown': _("Don't know")}
# The health questionnaire is the clinic's screening (one list: the desk sees the same questions and keys).
HEALTH_QUESTIONS = dict(SCREENING_QUESTIONS)
NC_COUNTIES = (
    'Alamance', 'Alexander', 'Alleghany', 'Anson', 'Ashe', 'Avery', 'Beaufort', 'Bertie', 'Bladen', 'Brunswick',
    'Buncombe', 'Burke', 'Cabarrus', 'Caldwell', 'Camden', 'Carteret', 'Caswell', 'Catawba', 'Chatham', 'Cherokee',
    'Chowan', 'Clay', 'Cleveland', 'Columbus', 'Craven', 'Cumberland', 'Currituck', 'Dare', 'Davidson', 'Davie',
    'Duplin', 'Durham', 'Edgecombe', 'Forsyth', 'Franklin', 'Gaston', 'Gates', 'Graham', 'Granville', 'Greene',
    'Guilford', 'Halifax', 'Harnett', 'Haywood', 'Henderson', 'Hertford', 'Hoke', 'Hyde', 'Iredell', 'Jackson',
    'Johnston', 'Jones', 'Lee', 'Lenoir', 'Lincoln', 'Macon', 'Madison', 'Martin', 'McDowell', 'Mecklenburg',
    'Mitchell', 'Montgomery', 'Moore', 'Nash', 'New Hanover', 'Northampton', 'Onslow', 'Orange', 'Pamlico',
    'Pasquotank', 'Pender', 'Perquimans', 'Person', 'Pitt', 'Polk', 'Randolph', 'Richmond', 'Robeson', 'Rockingham',
    'Rowan', 'Rutherford', 'Sampson', 'Scotland', 'Stanly', 'Stokes', 'Surry', 'Swain', 'Transylvania', 'Tyrrell',
    'Union', 'Vance', 'Wake', 'Warren', 'Washington', 'Watauga', 'Wayne', 'Wilkes', 'Wilson', 'Yadkin', 'Yancey',
)
CONTACT_FIELDS = ('address_line1', 'city', 'county', 'zip_code', 'phone', 'sex', 'race', 'ethnicity',
                  'preferred_language')
CONTACT_REQUIRED = {'address_line1': _('Street address'), 'city': _('City'), 'county': _('County'),
                    'zip_code': _('ZIP code'), 'phone': _('Phone'), 'sex': _('Sex'), 'race': _('Race'),
                    'ethnicity': _('Ethnicity'), 'preferred_language': _('Preferred language')}
STEPS = (_('Introduction'), _('Contact and Demographic Detail'), _('Vaccine group'), _('Health questionnaire'),
         _('Confirmation'))

STATUS_NOT_ENROLLED, STATUS_ENROLLED, STATUS_VACCINATED = 'not_enrolled', 'enrolled', 'vaccinated'
STATUS_LABELS = {STATUS_NOT_ENROLLED: _('Not Enrolled'), STATUS_ENROLLED: _('Enrolled'),
                 STATUS_VACCINATED: _('Vaccinated')}
