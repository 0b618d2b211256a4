import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Harness, startHarness } from './harness.js';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

describe('user-created objects are bounded', () => {
  it('a user keeps at most 50 dashboards; the 51st is refused with the quota named', async () => {
    const post = (i: number) =>
      fetch(`${h.base}/api/v1/dashboards`, {
        method: 'POST',
        headers: { authorization: `Bearer ${h.viewer}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `d${i}`, shared: false, widgets: [] }),
      });
    for (let i = 0; i < 50; i++) assert.equal((await post(i)).status, 201);
    const r = await post(50);
    assert.equal(r.status, 409);
    assert.match(await r.text(), /quota: a user keeps at most 50 dashboards/);
    // Another user is not affected.
    const other = await fetch(`${h.base}/api/v1/dashboards`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.analyst}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'mine', shared: false, widgets: [] }),
    });
    assert.equal(other.status, 201);
  });
});
