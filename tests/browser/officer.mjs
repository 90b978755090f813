// A security officer's first sign-in in headless Chromium: enrols an authenticator
// (the TOTP code computed here per RFC 6238), saves recovery codes, then opens the
// identity and compliance pages, checking each with axe-core; then reads the audit
// log, finds a patient with the picker, opens the patient's accounting of
// disclosures, and acknowledges a security alert with a note.
//
// Usage: node officer.mjs BASE_URL EMAIL
// Environment: CHROMIUM (the browser's path), ENAMEL_PASSWORD (the account's password),
// PATIENT_LAST_NAME (a patient of the practice with a referral sent).

import { arguments_, audit, enrol, fail, launch, report, signIn } from './common.mjs';

const args = arguments_();
const { base } = args;

const { browser, page } = await launch();
try {
  await signIn(page, args, '/sign-in/enrol');
  await enrol(page);

  const pages = [
    ['/', 'home'],
    ['/account/sessions', 'sessions'],
    ['/admin/users', 'people'],
    ['/security/access-review', 'access review'],
    ['/vendors', 'vendors'],
    ['/practice/agreement', 'agreement'],
    ['/api/v1/docs', 'API docs'],
    ['/security/audit', 'audit log'],
    ['/security/failures', 'failures'],
  ];
  for (const [path, name] of pages) {
    const response = await page.goto(`${base}${path}`);
    if (response.status() !== 200) fail(name, `status ${response.status()}`);
    await audit(page, name);
  }

  // The picker leads to the patient's accounting of disclosures.
  await page.goto(`${base}/security/patients`);
  await audit(page, 'patient picker');
  await page.getByLabel('Last name').fill(process.env.PATIENT_LAST_NAME ?? '');
  await page.getByRole('button', { name: 'Find' }).click();
  await page.waitForLoadState();
  await audit(page, 'patients found');
  await page.getByRole('link', { name: 'Accounting of disclosures' }).first().click();
  await page.waitForLoadState();
  if (!(await page.getByRole('heading', { name: /Accounting of disclosures for/ }).isVisible())) {
    fail('accounting', `at ${page.url()}`);
  }
  if ((await page.locator('tbody tr').count()) < 1) fail('accounting', 'no disclosure listed');
  await audit(page, 'accounting of disclosures');

  // An open alert is acknowledged with a note.
  await page.goto(`${base}/security/alerts`);
  await audit(page, 'alerts');
  await page.getByLabel('Note (optional)').first().fill('Spoke with the dentist; expected.');
  await page.getByRole('button', { name: 'Acknowledge' }).first().click();
  await page.waitForLoadState();
  if (!(await page.getByText('The alert is acknowledged').isVisible())) {
    fail('acknowledge', `at ${page.url()}`);
  }
  await audit(page, 'alert acknowledged');
  console.log(JSON.stringify(report));
} finally {
  await browser.close();
}
