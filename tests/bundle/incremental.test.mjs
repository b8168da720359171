// Air-gapped transfer, again and incrementally: importing the same bundle again changes nothing;
// a bundle also restores a blob that verify quarantined; `export --have` the inner side's
// inventory carries only the new blob, importing it moves the branch, and the old commit stays
// readable by id.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test incremental.test.mjs
//
// Plain Node 20 (no npm packages); everything on 127.0.0.1 with port 0, in a temporary directory
// removed afterwards.

import assert from "node:assert/strict";
import { mkdir, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";

import { blobPath, flipByte, getJson, importRepo, runLogged, sha256Hex, withServers, writeSource } from "../support/harness.mjs";
import { assertServedAlike, bundleA, CONTENT, exportBundle, importBundle, innerA, outer, readBundle, REPOS, ROOT, useBundleFixture, visibleState, VOLUME, volumeName, volumesIn } from "./bundle_fixture.mjs";

const work = useBundleFixture("hubmirror-bundle-incremental-");

describe("b. importing the same bundle again", () => {
	test("changes nothing: 0 new blobs, 0 published, the same listings and inventory", { timeout: 20_000 }, async (t) => {
		const inner = await work.copy(innerA, "inner-b");
		const before = await visibleState(t, inner);
		const again = await importBundle(t, inner, bundleA);
		assert.equal(again.newBlobs, 0);
		assert.equal(again.newBytes, 0);
		assert.equal(again.published, 0);
		assert.equal(again.already, CONTENT.size);
		assert.equal(again.commits, REPOS.length);
		assert.deepEqual(await visibleState(t, inner), before);
	});

	test("restores a blob that verify quarantined", { timeout: 20_000 }, async (t) => {
		const inner = await work.copy(innerA, "inner-b-repair");
		const [repo] = REPOS;
		const content = repo.files.get("model.safetensors");
		const path = blobPath(inner, sha256Hex(content));
		await flipByte(path, 100);
		assert.equal((await runLogged(t, ["verify", "--data", inner])).code, 1, "verify finds the damage");
		const repair = await importBundle(t, inner, bundleA);
		assert.equal(repair.newBlobs, 1);
		assert.equal(repair.newBytes, content.length);
		assert.equal(repair.already, CONTENT.size - 1);
		const verified = await runLogged(t, ["verify", "--data", inner]);
		assert.equal(verified.code, 0, "verify after the bundle restored the blob");
		await withServers([inner], async (server) => {
			const res = await fetch(`${server.url}/${repo.name}/resolve/main/model.safetensors`);
			assert.equal(res.status, 200, `served again (${res.headers.get("x-error-code")})`);
			assert.ok(Buffer.from(await res.arrayBuffer()).equals(content));
		});
	});
});

// ---------------------------------------------------------------------------------------------
// c. Incremental
// ---------------------------------------------------------------------------------------------

describe("c. incremental: export --have the inner inventory", () => {
	test("carries only the new blob; the branch moves, the old commit stays readable", { timeout: 20_000 }, async (t) => {
		const outerC = await work.copy(outer, "outer-c");
		const innerC = await work.copy(innerA, "inner-c");
		const [root] = REPOS;
		const NEW = "generation_config.json";
		const added = Buffer.from(JSON.stringify({ max_new_tokens: 256, temperature: 0.7 }) + "\n");
		const src = await work.copy(root.src, "src-root-v2");
		await writeSource(src, [[NEW, added]]);
		const newCommit = await importRepo(t, outerC, src, ROOT);
		assert.notEqual(newCommit, root.commit);

		const inventory = await runLogged(t, ["inventory", "--data", innerC, "--json"]);
		assert.equal(inventory.code, 0);
		const have = join(work.dir("have"), "inventory.json");
		await mkdir(dirname(have), { recursive: true });
		await writeFile(have, inventory.stdout);

		const bundle = work.dir("bundle-c");
		const exported = await exportBundle(t, outerC, bundle, ["--have", have, "--all", "--volume-size", VOLUME]);
		assert.equal(exported.blobs, 1, "exactly the new blob");
		assert.equal(exported.bytes, added.length);
		assert.equal(exported.volumes, 1);
		assert.equal(exported.repos, REPOS.length);
		assert.equal(exported.commits, REPOS.length + 1, "the whole history, without the content the far side has");
		const { bundle: doc } = await readBundle(bundle);
		assert.equal(doc.blobs.length, 1);
		assert.equal(doc.blobs[0].sha256, sha256Hex(added));
		assert.deepEqual(await volumesIn(bundle), [volumeName(0)]);
		assert.equal((await stat(join(bundle, volumeName(0)))).size, added.length);

		const imported = await importBundle(t, innerC, bundle);
		assert.equal(imported.newBlobs, 1);
		assert.equal(imported.newBytes, added.length);
		assert.equal(imported.already, 0);
		assert.equal(imported.published, 1, "only the new commit of the root");

		await withServers([outerC, innerC], async (o, i) => {
			const files = new Map([...root.files, [NEW, added]]);
			const info = await assertServedAlike(o, i, root, files);
			assert.equal(info.sha, newCommit, "main moved to the new commit");
			// The old commit, by id, as it was.
			await assertServedAlike(o, i, root, root.files, root.commit);
			const gone = await fetch(`${i.url}/${ROOT}/resolve/${root.commit}/${NEW}`);
			assert.equal(gone.status, 404, "the new file is not in the old commit");
			assert.equal(gone.headers.get("x-error-code"), "EntryNotFound");
			const commits = await getJson(`${i.url}/api/models/${ROOT}/commits/main`);
			assert.deepEqual(commits.map((c) => c.id), [newCommit, root.commit]);
		});
		const after = await runLogged(t, ["inventory", "--data", innerC, "--json"]);
		const entry = JSON.parse(after.stdout).repos.find((r) => r.name === ROOT);
		assert.deepEqual(entry.refs, { main: newCommit });
		assert.deepEqual([...entry.commits].sort(), [root.commit, newCommit].sort());
	});
});
