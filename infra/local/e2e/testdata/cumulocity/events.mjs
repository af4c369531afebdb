// Cumulocity's own client, @c8y/client's EventService, against the key API:
// list with filters and paging, detail, create, update, delete. Run by
// TestCumulocitysOwnClient (cumulocity_test.go) with the key API's URL, a
// device API key's id and secret as the Basic user and password (no
// tenant), and the device the key may touch. Exits non-zero on the first
// answer that is not the expected one; leaves one event behind ("kept by
// @c8y/client") for the Go test to find through the native API.
import assert from 'node:assert/strict';
import { BasicAuth, EventService, FetchClient } from '@c8y/client';

const { C8Y_BASE_URL, C8Y_USER, C8Y_PASSWORD, C8Y_SOURCE } = process.env;
const auth = new BasicAuth({ user: C8Y_USER, password: C8Y_PASSWORD });
const events = new EventService(new FetchClient(auth, C8Y_BASE_URL));
const source = { id: C8Y_SOURCE };

const start = Date.now() - 60 * 60 * 1000;
const at = i => new Date(start + i * 60 * 1000).toISOString();

// create: seven door events, a fragment on the even ones, and a heartbeat.
const created = [];
for (let i = 0; i < 7; i++) {
  const event = { source, type: 'c8y_DoorOpened', time: at(i), text: `door ${i}` };
  if (i % 2 === 0) event.c8y_Position = { lat: 52.1, lng: 4.3 + i };
  const { res, data } = await events.create(event);
  assert.equal(res.status, 201, `create ${i}: status`);
  assert.ok(res.headers.get('location').endsWith(`/event/events/${data.id}`), `create ${i}: Location ${res.headers.get('location')}`);
  assert.equal(data.text, `door ${i}`);
  assert.equal(data.source.id, C8Y_SOURCE);
  assert.ok(data.creationTime, 'creationTime');
  created.push(data);
}
await events.create({ source, type: 'c8y_Heartbeat', time: at(3.5), text: 'heartbeat' });

// list with filters and paging: newest first, 3 a page, page by page with
// the client's own Paging (it reads currentPage from "next").
let page = await events.list({ source: C8Y_SOURCE, type: 'c8y_DoorOpened', pageSize: 3, withTotalPages: true });
assert.equal(page.res.status, 200);
assert.deepEqual(page.data.map(e => e.text), ['door 6', 'door 5', 'door 4']);
assert.equal(page.paging.totalPages, 3);
assert.equal(page.paging.currentPage, 1);
assert.equal(page.paging.nextPage, 2);
const all = [...page.data];
while (page.paging.nextPage) {
  page = await page.paging.next();
  all.push(...page.data);
}
assert.deepEqual(all.map(e => e.text), created.map(e => e.text).reverse());
assert.equal(page.paging.currentPage, 3);
assert.equal(page.paging.nextPage, null);

// goto a page, oldest first, in a time range
page = await events.list({ source: C8Y_SOURCE, dateFrom: at(1), dateTo: at(5), revert: true, pageSize: 2, currentPage: 2 });
assert.deepEqual(page.data.map(e => e.text), ['door 3', 'heartbeat']);
assert.equal(page.paging.prevPage, 1);

// fragmentType: the fragment is at the top of the event
page = await events.list({ source: C8Y_SOURCE, fragmentType: 'c8y_Position', pageSize: 20 });
assert.deepEqual(page.data.map(e => e.text), ['door 6', 'door 4', 'door 2', 'door 0']);
assert.equal(page.data[0].c8y_Position.lng, 10.3);

// detail
const { res: got, data: one } = await events.detail(created[2].id);
assert.equal(got.status, 200);
assert.equal(one.id, created[2].id);
assert.equal(one.time, created[2].time);
assert.equal(one.c8y_Position.lat, 52.1);

// update: the text, a fragment added, one removed
const { res: updated, data: changed } = await events.update({ id: created[2].id, text: 'kept by @c8y/client', c8y_Note: { by: 'script' }, c8y_Position: null });
assert.equal(updated.status, 200);
assert.equal(changed.text, 'kept by @c8y/client');
assert.deepEqual(changed.c8y_Note, { by: 'script' });
assert.equal(changed.c8y_Position, undefined);

// delete every other event, one by one
for (const e of created.filter(e => e.id !== created[2].id)) {
  const { res } = await events.delete(e.id);
  assert.equal(res.status, 204, `delete ${e.text}`);
}
const hb = await events.list({ source: C8Y_SOURCE, type: 'c8y_Heartbeat' });
assert.equal((await events.delete(hb.data[0])).res.status, 204);

// what is left, and errors as the client sees them
page = await events.list({ source: C8Y_SOURCE, withTotalElements: true });
assert.deepEqual(page.data.map(e => e.text), ['kept by @c8y/client']);
assert.equal(page.paging.totalElements, 1);
await assert.rejects(events.detail(created[0].id), e => e.res.status === 404 && e.data.error === 'event/Not Found');
await assert.rejects(events.list({ source: 'another-device' }), e => e.res.status === 403 && e.data.error === 'security/Forbidden');
await assert.rejects(events.list({ source: C8Y_SOURCE, pageSize: 2001 }), e => e.res.status === 400 && e.data.error === 'event/Bad Request');

console.log('@c8y/client EventService: create, list with filters and paging, detail, update, delete: ok');
