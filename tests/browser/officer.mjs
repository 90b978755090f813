// A security officer's first sign-in in headless Chromium: enrols an authenticator
// (the TOTP code computed here per RFC 6238), saves recovery codes, then opens the
// identity and compliance pages, checking each with axe-core; then reads the audit
// log, finds a patient with the picker, opens the patient's accounting of
// disclosures, and acknowledges a security alert with a note.
//
// Usage: node officer.mjs BASE_URL EMAIL
// Environment: CHROMIUM (the browser's path), ENAMEL_PASSWORD (the account's password),
// PATIENT_LAST_NAME (a patient of the practice with a referral sent).

import { createHmac } from 'node:crypto';
import { arguments_, audit, fail, launch, report, signIn } from './common.mjs';

const args = arguments_();
const { base } = args;

function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of text.replace(/=+$/, '')) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** RFC 6238 with SHA-1, 30-second steps, six digits. */
function totp(secret, now = Date.now()) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(now / 30000)));
  const mac = createHmac('sha1', secret).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1000000;
  return String(code).padStart(6, '0');
}

const { browser, page } = await launch();
try {
  await signIn(page, args, '/sign-in/enrol');
  await audit(page, 'second-factor enrolment');
  const key = (await page.locator('figcaption code').innerText()).trim();
  await page.getByLabel('Code from the app').fill(totp(base32(key)));
  await page.getByRole('button', { name: 'Turn on' }).click();
  await page.waitForLoadState();
  const codes = await page.locator('.codes li').count();
  if (codes !== 10) fail('recovery codes', `${codes} codes shown`);
  await audit(page, 'recovery codes');

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
