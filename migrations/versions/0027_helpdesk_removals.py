"""helpdesk removals: each open RemovalRequest (from before the help desk) becomes a "Remove a recipient" case

Revision ID: 0027_helpdesk_removals
Revises: 0026_readiness
Create Date: 2026-12-02

Data only. Numbers come from the same counter as new cases (casecounter), so they stay unique and in
sequence. The requester is the user who asked; the recipient and the reason are kept. The request is marked
'moved' so it is not moved twice and the case is now where it is worked. The type, group and fields are a frozen
copy of services.helpdesk.cases at this revision.
"""
import json
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = '0027_helpdesk_removals'
down_revision: str | Sequence[str] | None = '0026_readiness'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REQUEST_TYPE = 'remove_recipient'
GROUP = 'Recipient Records'
OPEN_STATES = ('new', 'in_progress', 'awaiting_requester', 'resolved')


def upgrade() -> None:
    bind = op.get_bind()
    requests = bind.execute(sa.text(
        'SELECT r.id, r.created_at, r.recipient_id, r.location_id, COALESCE(r.organization_id, l.organization_id), '
        'r.requested_by_user_id, '
        'r.requested_by_email, r.reason, p.first_name, p.last_name, u.full_name, u.email, o.name '
        'FROM removalrequest r '
        'LEFT JOIN recipient p ON p.id = r.recipient_id '
        'LEFT JOIN "user" u ON u.id = r.requested_by_user_id '
        'LEFT JOIN location l ON l.id = r.location_id '
        'LEFT JOIN organization o ON o.id = COALESCE(r.organization_id, l.organization_id) '
        "WHERE r.status = 'open' ORDER BY r.created_at, r.id")).all()
    if not requests:
        return
    bind.execute(sa.text('INSERT INTO casecounter (id, last_number) SELECT 1, 0 '
                         'WHERE NOT EXISTS (SELECT 1 FROM casecounter WHERE id = 1)'))
    now = datetime.now(UTC)
    for (request_id, created_at, recipient_id, location_id, organization_id, user_id, asked_by, reason, first, last,
         full_name, user_email, organization_name) in requests:
        already = bind.execute(sa.text(
            'SELECT 1 FROM helpdesk_case WHERE recipient_id = :recipient AND request_type = :type '
            'AND state IN :states').bindparams(sa.bindparam('states', expanding=True)),
            {'recipient': recipient_id, 'type': REQUEST_TYPE, 'states': list(OPEN_STATES)}).first()
        if already is None:
            bind.execute(sa.text('UPDATE casecounter SET last_number = last_number + 1 WHERE id = 1'))
            last_number = bind.execute(sa.text('SELECT last_number FROM casecounter WHERE id = 1')) \
                .scalar_one()
            name = f'{first or ""} {last or ""}'.strip() or f'recipient {recipient_id}'
            email = user_email or asked_by or ''
            bind.execute(sa.text(
                'INSERT INTO helpdesk_case (number, created_at, updated_at, request_type, assignment_group, priority, '
                'state, subject, description, fields_json, language, requester_user_id, requester_name, '
                'requester_email, organization_id, organization_name, location_id, unregistered_provider, '
                'recipient_id, resolution_notes, view_key) VALUES (:number, :created, :now, :type, :group, 3, '
                "'new', :subject, :reason, :fields, 'en', :user, :requester, :email, :organization, "
                ":organization_name, :location, :false, :recipient, '', :key)"),
                {'number': f'VACHCP{last_number:07d}', 'created': created_at or now, 'now': now, 'type': REQUEST_TYPE,
                 'group': GROUP, 'subject': f'Remove {name}'[:200], 'reason': (reason or '').strip(),
                 'fields': json.dumps({'recipient': name}), 'user': user_id,
                 'requester': (full_name or email)[:200], 'email': email[:254], 'organization': organization_id,
                 'organization_name': (organization_name or '')[:200], 'location': location_id, 'false': False,
                 'recipient': recipient_id, 'key': secrets.token_urlsafe(24)})
        bind.execute(sa.text("UPDATE removalrequest SET status = 'moved' WHERE id = :id"), {'id': request_id})


def downgrade() -> None:
    # Data only: the cases may have been worked since, so they stay (and the requests stay 'moved').
    pass
