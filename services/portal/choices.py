"""The portal's fixed choices and labels: languages, answers, the registration steps, program statuses.

Labels are message ids, translated where they are shown (in the reader's language)."""
from __future__ import annotations

from services.clinic.common import SCREENING_QUESTIONS
from services.core.i18n import marked as _

# Sex, race and ethnicity are coded: their options and labels are services.recipients.codes.
PREFERRED_LANGUAGE_OPTIONS = {'en': _('English'), 'es': _('Spanish'), 'other': _('Other language')}
ANSWER_OPTIONS = {'yes': _('Yes'), 'no': _('No')}
HEALTH_ANSWER_OPTIONS = {'yes': _('Yes'), 'no': _('No'), 'unknown': _("Don't know")}
# The health questionnaire is the clinic's screening (one list: the desk sees the same questions and keys).
HEALTH_QUESTIONS = dict(SCREENING_QUESTIONS)
# The Contact and Demographic Detail step; every field is required.
CONTACT_FIELDS = ('address_line1', 'city', 'county', 'zip_code', 'phone', 'sex', 'race', 'ethnicity',
                  'preferred_language')
STEPS = (_('Introduction'), _('Contact and Demographic Detail'), _('Vaccine group'), _('Health questionnaire'),
         _('Confirmation'))

STATUS_NOT_ENROLLED, STATUS_ENROLLED, STATUS_VACCINATED = 'not_enrolled', 'enrolled', 'vaccinated'
STATUS_LABELS = {STATUS_NOT_ENROLLED: _('Not Enrolled'), STATUS_ENROLLED: _('Enrolled'),
                 STATUS_VACCINATED: _('Vaccinated')}
