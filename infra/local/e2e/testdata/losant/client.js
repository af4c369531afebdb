// Losant's own client, losant-rest (infra/local/package.json), against the
// key API or the events API: event get, patch and delete, events get and
// post, as a Losant application would call them, changed only in its url
// and access token. TestLosantRestClient runs it with LOSANT_URL (the key
// API, or the events API), LOSANT_KEY (a device API key of every event
// scope for every device, or a JWT), LOSANT_SOURCE_TYPE (what an update by
// that credential records: apiToken for a key, user for a JWT),
// LOSANT_APP and LOSANT_DEVICE. Any mismatch exits non-zero.
'use strict';

const assert = require('assert');
const api = require('losant-rest');

const applicationId = process.env.LOSANT_APP;
const deviceId = process.env.LOSANT_DEVICE;
const client = api.createClient({ url: process.env.LOSANT_URL, accessToken: process.env.LOSANT_KEY });

// rejects asserts that a call fails as losant-rest reports an API error:
// the answer's message as the Error's, its type and status on it.
async function rejects(call, statusCode, type) {
  try {
    await call;
  } catch (err) {
    assert.strictEqual(err.statusCode, statusCode, `statusCode of ${err}`);
    assert.strictEqual(err.type, type, `type of ${err}`);
    assert.ok(err.message.length > 0, 'an error has a message');
    return err;
  }
  assert.fail(`resolved, want a ${statusCode} ${type}`);
}

async function main() {
  // events.post: the document's example event.
  const example = {
    level: 'info',
    subject: 'Power levels critical',
    message: 'Power levels on device 432 have surpassed critical thresholds',
    deviceId,
    data: { voltage: 3.1 },
    creationDate: '2016-06-13T04:00:00.000Z',
  };
  const posted = await client.events.post({ applicationId, event: example });
  assert.strictEqual(posted.id, posted.eventId);
  assert.strictEqual(posted.applicationId, applicationId);
  for (const k of ['level', 'subject', 'message', 'deviceId', 'creationDate']) {
    assert.strictEqual(posted[k], example[k], k);
  }
  assert.deepStrictEqual(posted.data, example.data);
  assert.strictEqual(posted.state, 'new');
  assert.deepStrictEqual(posted.updates, []);
  const later = [];
  for (const [i, at] of ['2016-06-13T05:00:00.000Z', '2016-06-13T06:30:00.000Z'].entries()) {
    later.push(await client.events.post({ applicationId, event: { level: 'warning', subject: 'Door open', deviceId, creationDate: at, data: { n: i } } }));
  }

  // event.get
  const got = await client.event.get({ applicationId, eventId: posted.id });
  assert.deepStrictEqual(got, posted);

  // event.patch: the document's example patch.
  const patched = await client.event.patch({ applicationId, eventId: posted.id, event: { state: 'acknowledged', comment: 'Looking into this issue' } });
  assert.strictEqual(patched.state, 'acknowledged');
  assert.strictEqual(patched.updates.length, 1);
  const u = patched.updates[0];
  assert.strictEqual(u.comment, 'Looking into this issue');
  assert.deepStrictEqual(u.stateChange, { old: 'new', new: 'acknowledged' });
  assert.strictEqual(u.sourceType, process.env.LOSANT_SOURCE_TYPE || 'apiToken');
  const moved = await client.event.patch({ applicationId, eventId: posted.id, event: { level: 'critical', message: 'Now critical', data: { voltage: 2.2, phase: 'B' } } });
  assert.strictEqual(moved.level, 'critical');
  assert.strictEqual(moved.message, 'Now critical');
  assert.deepStrictEqual(moved.data, { voltage: 2.2, phase: 'B' });
  assert.strictEqual(moved.state, 'acknowledged');
  assert.strictEqual(moved.updates.length, 2);

  // events.get: pages of a device's events, oldest first.
  const ids = [posted.id, later[0].id, later[1].id];
  const page0 = await client.events.get({ applicationId, query: { deviceId }, sortField: 'creationDate', sortDirection: 'asc', page: 0, perPage: 2 });
  assert.deepStrictEqual(page0.items.map((e) => e.id), ids.slice(0, 2));
  assert.strictEqual(page0.totalCount, 3);
  assert.strictEqual(page0.count, 2);
  assert.strictEqual(page0.page, 0);
  assert.strictEqual(page0.perPage, 2);
  assert.strictEqual(page0.applicationId, applicationId);
  const page1 = await client.events.get({ applicationId, query: { deviceId }, sortDirection: 'asc', page: 1, perPage: 2 });
  assert.deepStrictEqual(page1.items.map((e) => e.id), ids.slice(2));
  assert.strictEqual(page1.count, 1);
  assert.strictEqual(page1.totalCount, 3);
  // Newest first by default.
  const newest = await client.events.get({ applicationId, query: { deviceId } });
  assert.deepStrictEqual(newest.items.map((e) => e.id), ids.slice().reverse());
  assert.strictEqual(newest.sortDirection, 'desc');
  // A state, a subject, a range of dates.
  const acked = await client.events.get({ applicationId, query: { $and: [{ deviceId }, { state: 'acknowledged' }] } });
  assert.deepStrictEqual(acked.items.map((e) => e.id), [posted.id]);
  assert.strictEqual(acked.totalCount, 1);
  const doors = await client.events.get({ applicationId, filterField: 'subject', filter: 'Door open', sortDirection: 'asc' });
  assert.deepStrictEqual(doors.items.map((e) => e.id), [later[0].id, later[1].id]);
  const ranged = await client.events.get({ applicationId, query: { deviceId, creationDate: { $gte: '2016-06-13T05:00:00.000Z', $lt: '2016-06-13T06:30:00.000Z' } } });
  assert.deepStrictEqual(ranged.items.map((e) => e.id), [later[0].id]);
  assert.strictEqual(ranged.totalCount, 1);

  // event.delete
  const del = await client.event.delete({ applicationId, eventId: posted.id });
  assert.deepStrictEqual(del, { success: true });
  await rejects(client.event.get({ applicationId, eventId: posted.id }), 404, 'NotFound');
  const after = await client.events.get({ applicationId, query: { deviceId } });
  assert.strictEqual(after.totalCount, 2);

  // Errors as losant-rest reports them.
  await rejects(client.events.post({ applicationId, event: { subject: 'no level', deviceId } }), 400, 'Validation');
  await rejects(client.event.patch({ applicationId, eventId: later[0].id, event: { state: 'closed' } }), 400, 'Validation');
  await rejects(client.event.patch({ applicationId, eventId: later[0].id, event: { subject: 'Door shut' } }), 400, 'Validation');
  await rejects(client.events.get({ applicationId, sortField: 'subject', query: { deviceId } }), 400, 'Validation');
  const unauthorized = api.createClient({ url: process.env.LOSANT_URL, accessToken: 'not-a-key' });
  const err = await unauthorized.event.get({ applicationId, eventId: later[0].id }).catch((e) => e);
  assert.strictEqual(err.statusCode, 401);
  assert.strictEqual(err.message, 'Unauthorized');

  console.log('losant-rest: every call answered as Losant does');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
