// Onboarding from nothing in headless Chromium: the platform operator signs in,
// enrols an authenticator and creates a practice; its administrator takes the
// emailed invitation (read from the demo's mailbox), chooses a password, enrols,
// executes Enamel's business associate agreement, and invites a front desk. Every
// page it visits is checked with axe-core.
//
// Usage: node onboard.mjs BASE_URL OPERATOR_EMAIL
// Environment: CHROMIUM, ENAMEL_PASSWORD (the operator's password), MAILBOX (the
// demo mailbox directory).

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { arguments_, audit, enrol, fail, launch, report, signIn } from './common.mjs';

const args = arguments_();
const { base } = args;
const admin = 'hana.admin@harbor-light.example.test';
const password = 'harbor light keeper 77';

/** Waits up to 15 s for the mailbox message to `to`, and returns its link to `path`. */
async function linkFor(to, path) {
  for (let i = 0; i < 150; i += 1) {
    for (const name of readdirSync(process.env.MAILBOX)) {
      if (!name.endsWith('.txt')) continue;
      const text = readFileSync(join(process.env.MAILBOX, name), 'utf8');
      if (text.includes(`To: ${to}`)) {
        const link = text.split(/\s+/).find((word) => word.includes(path));
        if (link) return link;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return fail('mailbox', `no message to ${to}`);
}

const { browser, page } = await launch();
try {
  // The operator creates the practice.
  await signIn(page, args, '/sign-in/enrol');
  await enrol(page);
  await page.goto(`${base}/operator/practices`);
  await audit(page, 'operator practices');
  await page.getByLabel('Practice name').fill('Harbor Light Dental');
  await page.getByLabel(/Organisation NPI/).fill('1234567893');
  await page.getByLabel('Office phone').fill('(206) 555-0117');
  await page.getByLabel('Specialty').selectOption('general');
  await page.getByLabel('Street address').fill('1200 Western Ave');
  await page.getByLabel('City').fill('Seattle');
  await page.getByLabel(/State/).fill('WA');
  await page.getByLabel('ZIP code').fill('98101');
  await page.getByLabel('Time zone').selectOption('America/Los_Angeles');
  await page.getByLabel("Administrator's name").fill('Hana Harbor');
  await page.getByLabel("Administrator's email").fill(admin);
  await page.getByRole('button', { name: /Create the practice/ }).click();
  await page.waitForLoadState();
  if (!(await page.getByText('invitation is on its way').isVisible())) {
    fail('practice created', `at ${page.url()}`);
  }
  await audit(page, 'operator practice');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForLoadState();

  // The administrator accepts the emailed invitation.
  await page.goto(await linkFor(admin, '/invitations/'));
  await audit(page, 'invitation');
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Create my account' }).click();
  await page.waitForLoadState();
  await signIn(page, { base, email: admin, password }, '/sign-in/enrol');
  await enrol(page);

  // The agreement, executed by typing name and title.
  await page.goto(`${base}/practice/agreement`);
  await audit(page, 'agreement to execute');
  await page.getByLabel('Your full name').fill('Hana Harbor');
  await page.getByLabel('Your title').fill('Practice owner');
  await page.getByLabel(/I am authorized to sign/).check();
  await page.getByRole('button', { name: 'Execute the agreement' }).click();
  await page.waitForLoadState();
  if (!(await page.getByText('The agreement is executed.').isVisible())) {
    fail('agreement', `at ${page.url()}`);
  }
  await audit(page, 'agreement executed');

  // A front desk is invited, as the least powerful role by default.
  await page.goto(`${base}/admin/users`);
  await audit(page, 'people');
  await page.getByLabel('Name', { exact: true }).fill('Finn Desk');
  await page.getByLabel('Email', { exact: true }).fill('finn.desk@harbor-light.example.test');
  await page.getByRole('button', { name: 'Create invitation' }).click();
  await page.waitForLoadState();
  if (!(await page.getByText('Invitation created').isVisible())) fail('invite', `at ${page.url()}`);
  await audit(page, 'front desk invited');
  console.log(JSON.stringify(report));
} finally {
  await browser.close();
}
