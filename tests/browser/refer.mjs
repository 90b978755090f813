// Signs in to Enamel in headless Chromium and sends a referral with a radiograph
// and another with no file through the staff pages; then, as a patient on a phone,
// opens a portal link twice (two devices), checking every page with axe-core.
//
// Usage: node refer.mjs BASE_URL EMAIL
// Environment: CHROMIUM (the browser's path), ENAMEL_PASSWORD (the account's password),
// PORTAL_URL and PORTAL_BIRTH_DATE (a patient's link and date of birth, YYYY-MM-DD).
// Prints one JSON line with what it saw; exits non-zero, naming the step, on failure.

import { arguments_, audit, fail, launch, report, signIn } from './common.mjs';

const args = arguments_();
const { base } = args;

// A real 16x16 PNG, so the preview must decode in the browser.
const radiograph = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAQ0lEQVR4nGNgYGAQEBBQUFAwMDBwcHAICAhISEgoKChoaGiYMGHCggULNmzYcODAgQsXLjx48ODDhw8MoxpGNQxfDQBupWgQyPCYIQAAAABJRU5ErkJggg==',
  'base64',
);

const { browser, page } = await launch();
try {
  await signIn(page, args, '/');

  // The schedule: today's day view, marking a visit a no-show, the waitlist, recalls.
  await page.getByRole('link', { name: 'Schedule' }).first().click();
  await page.waitForURL(/\/schedule/);
  await audit(page, 'schedule');
  let day = 0;
  while ((await page.getByRole('button', { name: 'No-show' }).count()) === 0 && day < 5) {
    await page.getByRole('link', { name: 'Next day' }).click();
    await page.waitForLoadState();
    day += 1;
  }
  if ((await page.getByRole('button', { name: 'No-show' }).count()) === 0) {
    fail('schedule', 'no booked visit to mark within five days');
  }
  page.once('dialog', (dialog) => dialog.accept());
  await page.getByRole('button', { name: 'No-show' }).first().click();
  await page.waitForURL(/flash=broken/);
  if ((await page.getByRole('status').textContent()).indexOf('no-show') < 0) {
    fail('schedule', 'no confirmation that the visit is a no-show');
  }
  await page.getByRole('link', { name: 'Waitlist' }).first().click();
  await page.waitForURL(`${base}/schedule/waitlist`);
  await audit(page, 'waitlist');
  await page.goto(`${base}/schedule/recalls`);
  await audit(page, 'recalls');

  await page.getByRole('link', { name: 'Patients' }).first().click();
  await page.waitForURL(`${base}/patients`);
  await audit(page, 'patients');

  // A patient's own page, with the control that restricts the record.
  await page.locator('table a[href^="/patients/"]').first().click();
  await page.waitForURL(/\/patients\/[0-9a-f-]{36}$/);
  await audit(page, 'patient');
  await page.goBack();
  await page.waitForURL(`${base}/patients`);

  const refer = page.getByRole('link', { name: /^Refer / }).first();
  await refer.click();
  await page.waitForURL(/\/referrals\/new\?patient=/);
  await audit(page, 'new referral');

  if ((await page.locator('input[name="receiving_practice_id"]:checked').count()) !== 0) {
    fail('new referral', 'a specialist was chosen for the office');
  }
  await page.getByLabel('Urgency').selectOption('soon');
  await page.getByLabel('Reason for referral').fill('Evaluate tooth 19 for root canal therapy');
  await page.getByLabel(/CDT codes/).fill('D3330, X12');
  await page.getByLabel(/Teeth/).fill('19');
  await page.getByLabel('Clinical notes').fill('Lingering cold sensitivity; periapical attached.');
  // Searching the directory keeps what was typed.
  await page.getByLabel('Specialty').selectOption('endodontics');
  await page.getByRole('button', { name: 'Find specialists' }).click();
  await page.waitForLoadState();
  if ((await page.getByLabel('Reason for referral').inputValue()) !== 'Evaluate tooth 19 for root canal therapy') {
    fail('specialist search', 'the reason typed was lost');
  }
  const specialists = await page.locator('input[name="receiving_practice_id"]').count();
  if (specialists === 0) fail('new referral', 'no endodontist offered');
  await page.locator('input[name="receiving_practice_id"]').first().check();
  // A mistake (X12 is no CDT code) brings the form back with the message beside it.
  await page.getByRole('button', { name: 'Send referral' }).click();
  await page.waitForLoadState();
  const alert = await page.getByRole('alert').innerText();
  if (!alert.includes('Nothing was sent')) fail('mistake', `the page said "${alert}"`);
  if ((await page.getByLabel(/CDT codes/).inputValue()) !== 'D3330, X12') {
    fail('mistake', 'the codes typed were lost');
  }
  await audit(page, 'new referral with a mistake');
  await page.getByLabel(/CDT codes/).fill('D3330, D0220');
  await page.getByLabel(/Attachments/).setInputFiles({
    name: 'periapical-19.png',
    mimeType: 'image/png',
    buffer: radiograph,
  });
  await Promise.all([
    page.waitForURL(/\/referrals\/[0-9a-f-]{36}\?flash=sent$/),
    page.getByRole('button', { name: 'Send referral' }).click(),
  ]);
  const referral = new URL(page.url()).pathname.split('/').pop();
  const status = await page.getByRole('status').innerText();
  if (!status.includes('Referral sent')) fail('sent', `the page said "${status}"`);
  const preview = page.locator('img.preview').first();
  await preview.scrollIntoViewIfNeeded();
  await page.waitForFunction(() => {
    const img = document.querySelector('img.preview');
    return img && img.complete;
  });
  const width = await preview.evaluate((img) => img.naturalWidth);
  if (width !== 16) fail('preview', `the preview did not decode (width ${width})`);
  await audit(page, 'referral detail');

  await page.getByRole('link', { name: 'Referrals' }).first().click();
  await page.getByRole('link', { name: /Sent \(outbox\)/ }).click();
  await audit(page, 'outbox');

  // A second referral, with no file: the browser still sends an empty file part.
  await page.goto(`${base}/patients`);
  await page.getByRole('link', { name: /^Refer / }).nth(1).click();
  await page.waitForURL(/\/referrals\/new\?patient=/);
  await page.getByLabel('Reason for referral').fill('Periodontal evaluation');
  await page.locator('input[name="receiving_practice_id"]').first().check();
  await Promise.all([
    page.waitForURL(/\/referrals\/[0-9a-f-]{36}\?flash=sent$/),
    page.getByRole('button', { name: 'Send referral' }).click(),
  ]);
  const second = new URL(page.url()).pathname.split('/').pop();

  // The patient's link on a phone, opened on two devices within its 24 hours.
  for (const device of ['phone', 'another phone']) {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, bypassCSP: true });
    const patient = await phone.newPage();
    await patient.goto(process.env.PORTAL_URL);
    await audit(patient, `portal question (${device})`);
    await patient.getByLabel('Date of birth').fill(process.env.PORTAL_BIRTH_DATE);
    await patient.getByRole('button', { name: 'Show my referral' }).click();
    await patient.waitForLoadState();
    if (!(await patient.getByRole('heading', { name: /here is your referral/ }).isVisible())) {
      fail(`portal (${device})`, `at ${patient.url()}: ${await patient.locator('main').innerText()}`);
    }
    await audit(patient, `portal (${device})`);
    await phone.close();
  }

  console.log(JSON.stringify({ referral, second, ...report }));
} finally {
  await browser.close();
}
