// `hubmirror du`: bytes stored per repo, organization and lineage family, with the bytes unique to
// each and those deduplication shares between them.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test du.test.mjs
//
// Plain Node 20 (no npm packages), in a temporary directory removed afterwards.

import assert from "node:assert/strict";
import { test } from "node:test";

import { importRepo, pseudoRandomBytes, runLogged, useWorkRoot, writeSource } from "../support/harness.mjs";

const work = useWorkRoot("hubmirror-du-");

const SHARED = pseudoRandomBytes("du/shared", 10_000);
const BASE_OWN = pseudoRandomBytes("du/base", 3_000);
const CHILD_OWN = pseudoRandomBytes("du/child", 2_000);
const OTHER = pseudoRandomBytes("du/other", 1_000);
const CARD = Buffer.from("---\nbase_model: acme/base\nbase_model_relation: finetune\n---\n");

async function du(t, data, by) {
	const run = await runLogged(t, ["du", "--data", data, "--by", by, "--json"]);
	assert.equal(run.code, 0, run.stderr);
	const report = JSON.parse(run.stdout);
	return { report, groups: Object.fromEntries(report.groups.map((g) => [g.name, g])) };
}

test("du counts each group's bytes once, and what it shares with other groups", async (t) => {
	const data = work.dir("data");
	const base = work.dir("base");
	await writeSource(base, [["shared.safetensors", SHARED], ["own.safetensors", BASE_OWN]]);
	await importRepo(t, data, base, "acme/base");
	const child = work.dir("child");
	await writeSource(child, [["README.md", CARD], ["shared.safetensors", SHARED], ["own.safetensors", CHILD_OWN]]);
	await importRepo(t, data, child, "labs/child");
	const other = work.dir("other");
	await writeSource(other, [["weights.safetensors", OTHER]]);
	await importRepo(t, data, other, "acme/other");

	const total = SHARED.length + BASE_OWN.length + CHILD_OWN.length + CARD.length + OTHER.length;
	const byRepo = await du(t, data, "repo");
	assert.deepEqual(byRepo.report.total, { blobs: 5, bytes: total });
	assert.deepEqual(byRepo.groups["model acme/base"], {
		name: "model acme/base", blobs: 2, bytes: SHARED.length + BASE_OWN.length,
		unique_bytes: BASE_OWN.length, shared_bytes: SHARED.length,
	});
	assert.equal(byRepo.groups["model labs/child"].unique_bytes, CHILD_OWN.length + CARD.length);
	assert.equal(byRepo.groups["model labs/child"].shared_bytes, SHARED.length);
	assert.equal(byRepo.groups["model acme/other"].shared_bytes, 0);
	// Largest first.
	assert.deepEqual(byRepo.report.groups.map((g) => g.name), ["model acme/base", "model labs/child", "model acme/other"]);

	const byOrg = await du(t, data, "org");
	assert.equal(byOrg.groups.acme.bytes, SHARED.length + BASE_OWN.length + OTHER.length);
	assert.equal(byOrg.groups.acme.shared_bytes, SHARED.length, "the shared blob is shared with labs");
	assert.equal(byOrg.groups.labs.unique_bytes, CHILD_OWN.length + CARD.length);

	// The fine-tune's family is its base's: the shared blob is counted once, unique to the family.
	const byFamily = await du(t, data, "family");
	const family = byFamily.groups["acme/base"];
	assert.ok(family, `no family acme/base in ${JSON.stringify(byFamily.report)}`);
	assert.equal(family.bytes, SHARED.length + BASE_OWN.length + CHILD_OWN.length + CARD.length);
	assert.equal(family.shared_bytes, 0);

	const text = await runLogged(t, ["du", "--data", data]);
	assert.equal(text.code, 0);
	assert.match(text.stdout, new RegExp(`^stored: 5 blobs, ${total} bytes$`, "m"));
	assert.match(text.stdout, new RegExp(`^model acme/base: ${SHARED.length + BASE_OWN.length} bytes in 2 blobs, ${BASE_OWN.length} unique to it, ${SHARED.length} shared through deduplication$`, "m"));
});
