"""The desk by keyboard and screen reader in real Chromium at 1366×768: a scanner desk goes from the scan to a saved
dose with no mouse in at most 8 key presses (focus asserted after each), the dose form's accessibility tree names
each screening question as a radio group, and Today's Appointments fits and can be walked by keyboard."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.axe import axe_script
from tests.e2e.conftest import log_in, screenshot
from tests.factories import MANAGER, PROVIDER

DESK = {'width': 1366, 'height': 768}


def _focused(tab) -> dict:  # noqa: ANN001
    """What has keyboard focus: its role, accessible text and the text of the element itself."""
    return tab.evaluate('''() => { const el = document.activeElement;
        return {role: el.getAttribute('role') || el.tagName.toLowerCase(), text: (el.textContent || '').trim(),
                label: el.getAttribute('aria-label') || '', tag: el.tagName.toLowerCase()}; }''')


def _wait_focus(tab, text: str) -> dict:  # noqa: ANN001
    tab.wait_for_function('(t) => (document.activeElement.textContent || "").trim().includes(t)', arg=text)
    return _focused(tab)


def _case_number(tab, details: str) -> str:  # noqa: ANN001
    row = tab.locator('tr', has_text=details).first
    row.wait_for()
    return re.search(r'\b\d{8}\b', row.inner_text()).group(0)


def _rule_violations(tab, rules: list[str] | None, selector: str = 'body') -> list[dict]:  # noqa: ANN001
    """axe-core's violations of `rules` (None: every rule but colour contrast, which the page-wide palette and its
    sweep of every page own) inside the first element matching `selector`."""
    if not tab.evaluate('typeof window.axe !== "undefined"'):
        tab.add_script_tag(path=str(axe_script()))
    result = tab.evaluate('async ([s, r]) => await axe.run(document.querySelector(s), '
                          '{...(r ? {runOnly: {type: "rule", values: r}} '
                          ': {rules: {"color-contrast": {enabled: false}}}), resultTypes: ["violations"]})',
                          [selector, rules])
    return [{'id': v['id'], 'nodes': [n['target'] for n in v['nodes']][:3]} for v in result['violations']]


def test_keyboard_only_from_scan_to_saved_dose(live_app: str, browser) -> None:  # noqa: ANN001
    context = browser.new_context(viewport=DESK)
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    log_in(tab, live_app, PROVIDER)
    number = _case_number(tab, 'Grace Mid Wilms Dose 1 Scheduled')
    assert tab.get_by_label('Appointment confirmation number').evaluate('el => el === document.activeElement')
    presses = 0

    def press(key: str) -> None:
        nonlocal presses
        tab.keyboard.press(key)
        presses += 1

    tab.keyboard.type(number, delay=5)  # the scanner's keystrokes; its Enter is counted
    press('Enter')
    tab.get_by_text('Date of birth: 07/01/1990').wait_for()
    assert _wait_focus(tab, 'Check in')['tag'] == 'button', 'focus moves to the result\'s main action'
    status = tab.locator('[role=status]', has_text='Grace Mid Wilms')
    assert status.count() == 1, 'the check-in result is in a live region'

    press('Enter')  # checks in (not a second look-up) and opens the dose form
    tab.wait_for_url(re.compile(r'/desk/vaccinate/\d+'))
    tab.wait_for_function('document.activeElement.textContent.trim() === "Record vaccination"')
    assert _focused(tab)['role'] in ('heading', 'h1'), 'the dose form opens with focus on its heading'

    press('Tab')
    assert _focused(tab)['text'] == 'None of these apply'
    press('Enter')
    focused = _wait_focus(tab, 'consent')
    assert focused['role'] == 'checkbox', focused
    for question in tab.get_by_role('radiogroup').all():
        expect(question.get_by_role('radio', name='No')).to_have_attribute('aria-checked', 'true')
    tab.locator('[role=status]', has_text='answered No').wait_for()

    press('Space')
    expect(tab.get_by_role('checkbox', name=re.compile('gave consent'))).to_have_attribute('aria-checked', 'true')
    press('Tab')
    assert _focused(tab)['text'] == 'Save'
    press('Enter')
    tab.get_by_text(re.compile(r'Dose 1 of .+ recorded \(lot EK5730\)')).first.wait_for()
    assert _wait_focus(tab, 'Back to the desk')['tag'] == 'button'
    tab.locator('[role=status]', has_text='recorded (lot EK5730)').wait_for()
    screenshot(tab, 'desk-keyboard-saved')
    assert presses <= 8, presses

    press('Enter')  # on to the next person
    tab.locator('tr', has_text='Grace Mid Wilms Dose 1 Completed').wait_for()
    context.close()


def test_dose_form_names_each_screening_question_and_refuses_unanswered(live_app: str, browser) -> None:  # noqa: ANN001
    context = browser.new_context(viewport=DESK)
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    log_in(tab, live_app, PROVIDER)
    number = _case_number(tab, 'Scheduled')
    tab.get_by_label('Appointment confirmation number').fill(number)
    tab.keyboard.press('Enter')
    tab.get_by_role('button', name='Check in').click()
    tab.get_by_role('heading', name='Screening').wait_for()
    tree = tab.locator('.q-card', has=tab.get_by_role('heading', name='Screening')).aria_snapshot()
    assert '- radiogroup "Are you feeling sick today? *"' in tree, tree
    assert tree.count('- radiogroup "') == 7, tree
    assert tree.count('- radio "No"') == 7 and tree.count('- radio "Yes"') == 7, tree
    assert 'checked' not in tree.replace('unchecked', ''), 'nothing is answered for the person'
    screenshot(tab, 'desk-dose-form')

    sick = tab.get_by_role('radiogroup', name=re.compile('feeling sick'))
    sick.get_by_role('radio', name='No').focus()
    tab.keyboard.press('ArrowRight')  # a radio group's arrow keys choose the next answer
    expect(sick.get_by_role('radio', name='Yes')).to_have_attribute('aria-checked', 'true')
    assert _focused(tab)['label'] == 'Yes', tab.evaluate('document.activeElement.outerHTML.slice(0, 200)')
    # One Tab stop per question (roving tabindex): the chosen answer, else the first; Tab goes on to the next question.
    stops = tab.evaluate('[...document.querySelectorAll("[role=radiogroup]")]'
                         '.map((g) => [...g.querySelectorAll("[role=radio]")].filter((r) => r.tabIndex === 0)'
                         '.map((r) => r.getAttribute("aria-label")))')
    assert stops == [['Yes']] + [['No']] * 6, stops
    question = 'document.activeElement.closest("[role=radiogroup]")?.getAttribute("aria-labelledby")'
    sick_id = tab.evaluate(question)
    tab.keyboard.press('Tab')
    assert _focused(tab)['role'] == 'radio' and _focused(tab)['label'] == 'No', _focused(tab)
    assert tab.evaluate(question) not in (None, sick_id), 'Tab leaves the question for the next one'
    tab.keyboard.press('Shift+Tab')
    assert _focused(tab)['label'] == 'Yes' and tab.evaluate(question) == sick_id
    tab.get_by_role('button', name='Save').click()
    summary = tab.get_by_role('alert').filter(has_text='There is a problem')
    summary.wait_for()
    tab.wait_for_function('document.activeElement.textContent.includes("There is a problem")')
    links = summary.get_by_role('link')
    assert links.count() == 7  # six questions and the consent
    assert tab.get_by_text('Answer No or Yes to this question.').count() == 6
    links.first.click()
    assert 'Have you ever had a severe allergic reaction' in tab.evaluate(
        'document.activeElement.closest("[role=radiogroup]").getAttribute("aria-labelledby") && '
        'document.getElementById(document.activeElement.closest("[role=radiogroup]")'
        '.getAttribute("aria-labelledby")).innerText')
    screenshot(tab, 'desk-dose-form-errors')
    form = tab.get_by_role('heading', name='Screening').locator('xpath=ancestor::div[contains(@class, "q-card")]/..')
    form.evaluate('el => el.setAttribute("data-dose-form", "")')
    assert _rule_violations(tab, None, '[data-dose-form]') == []  # the form with its errors, any impact
    context.close()


def test_todays_appointments_fit_the_desk_and_open_by_keyboard(live_app: str, browser) -> None:  # noqa: ANN001
    context = browser.new_context(viewport=DESK)
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    log_in(tab, live_app, MANAGER)
    table = tab.locator('.q-table__container', has=tab.get_by_role('columnheader', name='STATUS'))
    table.locator('tbody tr').first.wait_for()
    for header in ('LOCATION', 'STATUS'):
        box, frame = table.get_by_role('columnheader', name=header).bounding_box(), table.bounding_box()
        assert box['x'] + box['width'] <= frame['x'] + frame['width'] + 1, f'{header} is cut off'
    assert table.locator('.q-table__middle').evaluate('el => el.scrollWidth <= el.clientWidth')
    assert _rule_violations(tab, ['scrollable-region-focusable']) == []
    assert _rule_violations(tab, None, '[data-testid=panel-today], .q-card:has(.q-table)') == []
    screenshot(tab, 'desk-1366')

    link = table.get_by_role('link', name=re.compile('Checked in'))
    if link.count():  # the demo's checked-in people are reached by Tab and opened by Enter
        link.first.focus()
        tab.keyboard.press('Enter')
        tab.wait_for_url(re.compile(r'/desk/vaccinate/\d+'))

    tab.goto(f'{live_app}/appointments')
    tab.get_by_text('Upcoming appointments').wait_for()
    tab.locator('[data-testid], .q-table tbody tr').first.wait_for()
    assert _rule_violations(tab, ['aria-toggle-field-name', 'scrollable-region-focusable']) == []
    assert _rule_violations(tab, None, '.q-card:has(.q-table)') == []
    context.close()
