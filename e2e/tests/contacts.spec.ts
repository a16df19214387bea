import {
  addContact,
  contactItem,
  expect,
  newUser,
  openContacts,
  screenshot,
  signUp,
  test,
} from '../fixtures';

test('two people add each other, and one removes the other', async ({ page, newPage }) => {
  const alice = newUser('Alice');
  const bob = newUser('Bob');

  await page.goto('/');
  await signUp(page, alice);
  const bobPage = await newPage();
  await bobPage.goto('/');
  await signUp(bobPage, bob);

  await addContact(page, bob.handle);
  await expect(contactItem(page, bob)).toBeVisible();
  await expect(contactItem(page, bob)).toContainText(bob.name);

  await addContact(bobPage, alice.handle);
  await expect(contactItem(bobPage, alice)).toBeVisible();
  await expect(contactItem(bobPage, alice)).toContainText(alice.name);
  await screenshot(page, 'contacts');

  // An entry opens the conversation with that person.
  await contactItem(page, bob).click();
  await expect(page.getByTestId('conversation')).toBeVisible();
  await expect(page.getByTestId('conversation-title')).toContainText(bob.name);
  await screenshot(page, 'conversation');

  await openContacts(page);
  await contactItem(page, bob).getByTestId('contact-remove').click();
  await expect(contactItem(page, bob)).toHaveCount(0);
  // Removing offers to take it back...
  await expect(page.getByTestId('toast')).toContainText(`Removed ${bob.name}`);
  await screenshot(page, 'contact-removed-undo');
  await page.getByTestId('toast-undo').click();
  await expect(contactItem(page, bob)).toBeVisible();
  // ...and the server agrees after a reload.
  await page.reload();
  await openContacts(page);
  await expect(contactItem(page, bob)).toBeVisible();
  await contactItem(page, bob).getByTestId('contact-remove').click();
  await expect(contactItem(page, bob)).toHaveCount(0);

  // Removing is one-sided: Bob still has Alice.
  await expect(contactItem(bobPage, alice)).toBeVisible();
});

test('adding an unknown handle shows an error', async ({ page }) => {
  await page.goto('/');
  await signUp(page, newUser('Dora'));
  await addContact(page, newUser('Nobody').handle);
  await expect(page.getByTestId('contact-error')).toBeVisible();
  await expect(page.getByTestId('contact-list').getByTestId('contact-item')).toHaveCount(0);
});
