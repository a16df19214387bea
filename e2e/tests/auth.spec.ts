import {
  expect,
  newUser,
  screenshot,
  showAuthForm,
  signIn,
  signOut,
  signUp,
  submitSignIn,
  test,
} from '../fixtures';

test('a new user signs up, stays signed in across a reload, signs out and in again', async ({ page }) => {
  const user = newUser('Ada');
  await page.goto('/');
  await expect(page.getByTestId('auth-screen')).toBeVisible();
  await showAuthForm(page, 'sign-in');
  await screenshot(page, 'auth-sign-in');
  await showAuthForm(page, 'sign-up');
  await screenshot(page, 'auth-sign-up');

  await signUp(page, user);
  await expect(page.getByTestId('profile-name')).toContainText(user.name);
  await expect(page.getByTestId('chat-list-empty')).toBeVisible();
  await expect(page.getByTestId('conversation-empty')).toBeVisible();
  await screenshot(page, 'main-empty');

  await page.reload();
  await expect(page.getByTestId('main-screen')).toBeVisible();
  await expect(page.getByTestId('profile-name')).toContainText(user.name);

  await signOut(page);
  await expect(page.getByTestId('main-screen')).toBeHidden();

  await signIn(page, user);
  await expect(page.getByTestId('profile-name')).toContainText(user.name);
});

test('a wrong password on sign-in shows an error', async ({ page }) => {
  const user = newUser('Bea');
  await page.goto('/');
  await signUp(page, user);
  await signOut(page);

  await submitSignIn(page, { handle: user.handle, password: `${user.password}!` });
  await expect(page.getByTestId('auth-error')).toBeVisible();
  await expect(page.getByTestId('auth-screen')).toBeVisible();
  await expect(page.getByTestId('main-screen')).toBeHidden();
  await screenshot(page, 'auth-error');
});

test('a too-short password on sign-up is refused without a request', async ({ page }) => {
  const registrations: string[] = [];
  page.on('request', (request) => {
    if (request.method() === 'POST' && new URL(request.url()).pathname.startsWith('/api/v1/accounts')) {
      registrations.push(request.url());
    }
  });
  const user = newUser('Cy');
  await page.goto('/');
  await showAuthForm(page, 'sign-up');
  await page.getByTestId('handle').fill(user.handle);
  await page.getByTestId('display-name').fill(user.name);
  await page.getByTestId('password').fill('short');
  await page.getByTestId('auth-submit').click();

  await expect(page.getByTestId('error-password')).toBeVisible();
  await expect(page.getByTestId('auth-screen')).toBeVisible();
  await screenshot(page, 'auth-field-error');
  expect(registrations).toEqual([]);
});
