"""The knowledge base's demo articles: real FAQ answers from the providers' guide (the bulk upload error messages,
BulkError.csv, removal of loaded recipients, password reset, offline operations), in English and Spanish."""
from __future__ import annotations

from sqlmodel import Session

from models import utcnow
from models.knowledge import KbArticle

BULK_ERRORS = """When a Bulk Registration file has records that fail, you receive an email with **BulkError.csv**:
the failed records in the upload format, with a column **Error** giving the reason for each line. The guide
lists six messages:

1. **Email address is duplicate**. Meaning: the recipient was already found in the system under the same first
   name, last name and date of birth. CVMS does not require a unique email for each recipient (a household may
   share one), but it checks first name, last name and date of birth for duplicates.
2. **First & last name cannot be empty**. Meaning: a name value was not entered. In the file:
   `Required fields are missing: [LastName]`.
3. **Invalid characters**. Meaning: a name field contained special characters. Use only letters, digits,
   spaces, hyphens, apostrophes and periods.
4. **Invalid email address**. Meaning: the address is not valid; CVMS looks for the @ sign and a domain, like
   `name@example.org`.
5. **Date of birth cannot be blank**. Meaning: a date of birth was not entered:
   `Required fields are missing: [Date of birth]`.
6. **Invalid date of birth**. Meaning: the date is not a real date in the mm/dd/yyyy format (for example
   `12/8/19555`).

Fix each line in the same sheet, delete the **Error** column, save as .csv and upload it again (see
"Fix and re-upload BulkError.csv").
"""

REUPLOAD = """1. Open the email "Bulk upload results" and its attachment **BulkError.csv**. It holds only the
   records that failed; no successfully loaded recipient is in it.
2. Find the column **Error** and correct the data **in the same sheet**.
3. Delete the **Error** column and save the file as **.csv**.
4. Open **Bulk Registration** and upload the file on the **Low Volume** tab (up to 100 records) or the
   **High Volume** tab.

Most of the time fewer than 100 records fail, so the Low Volume tab is enough. The only columns your file
needs are First Name, Last Name, Date of Birth and Email.

Need help loading a file? Open a case of the type **HCP Onboarding & Recipient Bulk Upload** and attach the
file: the help desk can load it for your location.
"""

REMOVAL = """You **cannot delete loaded recipients** yourself. To remove one, open **Bulk Registration**, find
the person in the loaded-recipients list and click **Request removal**, with the reason. This opens a
**Remove a recipient** case for the state help desk; you receive its VACHCP number by email.

The help desk removes a person who has no recorded dose (with their pending welcome email). A person with a
recorded dose is never deleted: their record can be marked inactive, or merged into another record of the
same person if they were loaded twice.
"""

PASSWORD_EN = """1. On the log-in page, click **Forgot password?**
2. Enter the email address of your account and click **Send reset link**.
3. Open the email and click the link (it works for a limited time, once).
4. Choose a new password.

Recipients loaded by a provider receive a welcome email, "Welcome to the North Carolina Vaccine Management
COVID-19 Vaccine Portal", with a link to set up their password. If that link expired, use **Forgot
password?** the same way. Allow emails from the Vaccine Management System so they do not land in spam.

We never send a password by email.
"""

PASSWORD_ES = """1. En la página de inicio de sesión, haga clic en **Forgot password?** (¿Olvidó su contraseña?).
2. Escriba el correo electrónico de su cuenta y haga clic en **Send reset link**.
3. Abra el correo y haga clic en el enlace (funciona una sola vez, por tiempo limitado).
4. Elija una contraseña nueva.

Si su proveedor de vacunas lo registró, usted recibió un correo de bienvenida con un enlace para crear su
contraseña. Si ese enlace venció, use **Forgot password?** de la misma manera.

Nunca enviamos contraseñas por correo electrónico.
"""

OFFLINE = """CVMS may be offline for maintenance, or you may be unable to reach a connected device. This should
not stop you from vaccinating, but you must keep records and enter them when the system is back.

- **Registration**: ask the recipient to fill out the printed *CVMS Recipient Registration* form, then
  register them at the desk when CVMS is back.
- **Administration**: capture each dose on the printed *CVMS Recipient Administration* form (it mirrors the
  screen's fields and order), then use **Enter doses recorded on paper**, one at a time or as a CSV file.
- **Inventory levels**: capture the counts on the *CVMS Inventory Levels* form and enter them in
  **Vaccine Inventory** as soon as possible.

The printable forms are under **Printable paper forms** (on the desk). Print them before you need them.
"""

DRAFT = """Shipments received with a temperature excursion are held in quarantine until the state decides.
(Draft: waiting for the state's guidance on viable temperature ranges.)
"""

ARTICLES = (
    ('Bulk upload error messages and what they mean', BULK_ERRORS, 'providers', 'en', True),
    ('Fix and re-upload BulkError.csv', REUPLOAD, 'providers', 'en', True),
    ('Removing a loaded recipient', REMOVAL, 'providers', 'en', True),
    ('Forgot your password? Reset it', PASSWORD_EN, 'both', 'en', True),
    ('¿Olvidó su contraseña? Cómo restablecerla', PASSWORD_ES, 'recipients', 'es', True),
    ('Offline operations: when CVMS is unavailable', OFFLINE, 'providers', 'en', True),
    ('Temperature excursions on receipt', DRAFT, 'providers', 'en', False),
)


def seed_articles(session: Session) -> None:
    """The demo's knowledge base, written in the caller's unit of work (services/demo.py)."""
    now = utcnow()
    for title, body, audience, language, published in ARTICLES:
        session.add(KbArticle(title=title, body=body.strip(), audience=audience, language=language,
                              published=published, published_at=now if published else None,
                              updated_by_email='helpdesk@demo.cvms.example.org'))
