// Accessibility beyond the per-page axe-core audits (browser.mjs): the dashboard used with the
// keyboard alone (create a project and a key, revoke it, delete the project behind its
// confirmation), a visible focus outline on what has focus, and a check that every kind of page
// the browser tests opened was also audited. Runs after the other browser cases.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { h, sql } from './harness.mjs';
import { audit, closeBrowser, pagesAudited, pagesVisited, shot, signedInContext } from './browser.mjs';

/** Presses Tab until the focused element matches `selector` (fails after `max` presses). */
async function tabTo(page, selector, max = 80) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement?.matches(s), selector)) return;
  }
  assert.fail(`${selector} not reached with ${max} Tab presses`);
}

/** The focused element's outline, as the browser draws it. */
const focusOutline = (page) =>
  page.evaluate(() => {
    const s = getComputedStyle(document.activeElement);
    return { style: s.outlineStyle, width: parseFloat(s.outlineWidth), tag: document.activeElement.tagName };
  });

async function assertVisibleFocus(page) {
  const o = await focusOutline(page);
  assert.ok(o.style !== 'none' && o.width >= 2, `focused ${o.tag} has no visible outline: ${JSON.stringify(o)}`);
}

describe('accessibility', () => {
  after(closeBrowser);

  test('keyboard only: create a project and a key, revoke it, delete the project; focus is always visible', async () => {
    const ctx = await signedInContext();
    const page = await ctx.newPage();
    await page.goto(`${h.stack.dashboardUrl}/projects`);
    await audit(page);

    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content', 'the first Tab reaches the skip link');
    await assertVisibleFocus(page);
    await tabTo(page, '#name');
    await assertVisibleFocus(page);
    await page.keyboard.type('Keyboard project');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/projects\/[0-9a-f-]{36}$/);
    const projectId = page.url().split('/').pop();
    assert.equal(await page.textContent('#project-name'), 'Keyboard project');

    await tabTo(page, '#key-name');
    await page.keyboard.type('typed key');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'key-kind');
    await page.keyboard.press('Tab');
    await assertVisibleFocus(page);
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Create key');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#new-key');
    assert.match((await page.textContent('#new-key')).trim(), /^lgw_proj_[A-Za-z0-9]{32}$/);
    assert.equal(sql(`select name from api_keys where project_id = '${projectId}'`), 'typed key');
    await audit(page);
    await shot(page, '07-keyboard-key-created');

    await tabTo(page, '#keys button');
    await assertVisibleFocus(page);
    await page.keyboard.press('Enter');
    await page.waitForSelector('text=Key revoked.');
    assert.equal(sql(`select revoked from api_keys where project_id = '${projectId}'`), 't');

    // Deleting needs the confirmation box: Enter on the button alone is refused by the form.
    await tabTo(page, '#project-admin form[action$="/delete"] button');
    await page.keyboard.press('Enter');
    assert.match(page.url(), new RegExp(`/projects/${projectId}`), 'not submitted without the box');
    await tabTo(page, '#project-admin input[name=confirm]');
    await assertVisibleFocus(page);
    await page.keyboard.press('Space');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/projects$/);
    assert.equal(sql(`select count(*) from projects where id = '${projectId}'`), '0');
    await ctx.close();
  });

  test('every kind of page the browser tests opened was audited with axe-core', () => {
    const missed = [...pagesVisited].filter((p) => !pagesAudited.has(p));
    assert.ok(pagesVisited.size >= 5, `pages visited: ${[...pagesVisited]}`);
    assert.deepEqual(missed, [], `visited but never audited: ${missed.join(', ')}`);
  });
});
