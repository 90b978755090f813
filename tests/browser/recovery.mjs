// No-show recovery in headless Chromium: the front desk's recovery page with an
// open run; then, as two patients on phones, the offers' links: opening one shows
// the time and books nothing, the first press books it, the second patient is told
// it was just taken; back at the desk the run is filled. Every page is checked with
// axe-core.
//
// Usage: node recovery.mjs BASE_URL EMAIL
// Environment: CHROMIUM, ENAMEL_PASSWORD, OFFER_URL and OFFER_URL_2 (two offers'
// links of the same run).
// Prints one JSON line with what it saw; exits non-zero, naming the step, on failure.

import { arguments_, audit, fail, launch, report, signIn } from './common.mjs';

const args = arguments_();
const { base } = args;

const { browser, page } = await launch();
try {
  await signIn(page, args, '/');
  await page.getByRole('link', { name: 'No-show recovery' }).first().click();
  await page.waitForURL(`${base}/schedule/recovery`);
  await audit(page, 'recovery');
  if ((await page.getByRole('heading', { name: /: Offering$/ }).count()) === 0) {
    fail('recovery', 'no run being offered');
  }

  const phone = async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, bypassCSP: true });
    return { context, patient: await context.newPage() };
  };
  const first = await phone();
  await first.patient.goto(process.env.OFFER_URL);
  await audit(first.patient, 'offer');
  if ((await first.patient.getByRole('button', { name: 'Book this time' }).count()) !== 1) {
    fail('offer', 'no "Book this time" button');
  }
  // The page fits the phone: nothing wider than its screen.
  const wide = await first.patient.evaluate(() => document.documentElement.scrollWidth);
  if (wide > 390) fail('offer', `the page is ${wide} pixels wide on a 390-pixel phone`);

  const second = await phone();
  await second.patient.goto(process.env.OFFER_URL_2);
  await first.patient.getByRole('button', { name: 'Book this time' }).click();
  await first.patient.waitForLoadState();
  if ((await first.patient.getByRole('heading', { name: 'You are booked' }).count()) !== 1) {
    fail('booking', 'the first patient was not booked');
  }
  await audit(first.patient, 'offer booked');
  await second.patient.getByRole('button', { name: 'Book this time' }).click();
  await second.patient.waitForLoadState();
  if ((await second.patient.getByRole('heading', { name: 'This time was just taken' }).count()) !== 1) {
    fail('race', 'the second patient was not told the time was taken');
  }
  await audit(second.patient, 'offer taken');
  await first.context.close();
  await second.context.close();

  await page.reload();
  if ((await page.getByRole('heading', { name: /: Filled$/ }).count()) === 0) {
    fail('recovery filled', 'the run is not shown filled');
  }
  await audit(page, 'recovery filled');

  console.log(JSON.stringify(report));
} finally {
  await browser.close();
}
