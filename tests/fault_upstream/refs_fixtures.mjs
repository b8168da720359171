// What the tests of mirrored refs share (sync_refs.test.mjs here, refs.test.mjs in tests/e2e): how
// a client names each ref of a `/refs` body, and the comparison of two such bodies. Plain Node 20.

import assert from "node:assert/strict";

/** The fields of a /refs item (hub-protocol.md §3.4). */
const REF_FIELDS = ["name", "ref", "targetCommit"];

/**
 * How a client names each ref of a /refs body in a revision: a branch or tag by its name, a pull
 * request or conversion by its full name (refs/pr/N, refs/convert/NAME).
 */
export function revisionsOf(refs) {
	return [
		...refs.branches.map((r) => r.name),
		...refs.tags.map((r) => r.name),
		...(refs.pullRequests ?? []).map((r) => r.ref),
		...refs.converts.map((r) => r.ref),
	];
}

/** Every full ref name of a /refs body, sorted. */
export function fullRefNames(refs) {
	return Object.values(refs)
		.flat()
		.map((r) => r.ref)
		.sort();
}

/**
 * Two /refs bodies have the same lists (branches, converts, tags, and pullRequests when one has
 * them) holding the same refs, item by item and field by field, in any order.
 */
export function assertSameRefs(actual, expected, what) {
	assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), `${what}: the lists of /refs`);
	const sorted = (items) => [...items].sort((a, b) => (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0));
	for (const list of Object.keys(expected)) {
		const got = sorted(actual[list]);
		const want = sorted(expected[list]);
		assert.deepEqual(got.map((i) => i.ref), want.map((i) => i.ref), `${what}: ${list}`);
		for (const [i, item] of got.entries()) {
			assert.deepEqual(Object.keys(item).sort(), REF_FIELDS, `${what}: the fields of ${list} item ${item.ref}`);
			for (const field of REF_FIELDS) {
				assert.equal(item[field], want[i][field], `${what}: ${list} ${item.ref}: ${field}`);
			}
		}
	}
}

/** Polls `fn` every 100 ms until it returns a truthy value, which it returns; fails after `ms`. */
export async function eventually(fn, ms, what) {
	const deadline = Date.now() + ms;
	while (Date.now() < deadline) {
		const value = await fn();
		if (value) return value;
		await new Promise((r) => setTimeout(r, 100));
	}
	assert.fail(`${what}: not reached in ${ms} ms`);
}
