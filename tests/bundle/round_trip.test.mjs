// Air-gapped transfer, round trip: `hubmirror export --all` in several volumes, `hubmirror
// import-bundle` with the outer instance's public key (from its /api/integrity/key); both sides
// then serve the same bytes, headers, repo info, refs, commits, trees and lineage, and list the
// same inventory.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test round_trip.test.mjs
//
// Plain Node 20 (no npm packages); everything on 127.0.0.1 with port 0, in a temporary directory
// removed afterwards.

import assert from "node:assert/strict";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";

import { getJson, runLogged, withServers } from "../support/harness.mjs";
import { assertServedAlike, bundleA, CONTENT, exportA, FT, importA, innerA, outer, outerKeyId, portableInfo, QUANT, readBundle, REPOS, ROOT, totalBytes, useBundleFixture, VOLUME_BYTES, volumeName } from "./bundle_fixture.mjs";

useBundleFixture("hubmirror-bundle-round-trip-");

describe("a. round trip: export --all in volumes, import-bundle with the outer key", () => {
	test("export: the counts, the volumes and bundle.json", async () => {
		const bytes = totalBytes();
		assert.equal(exportA.repos, REPOS.length);
		assert.equal(exportA.commits, REPOS.length);
		assert.equal(exportA.blobs, CONTENT.size, "every distinct content once (config.json is shared)");
		assert.equal(exportA.bytes, bytes);
		const nVolumes = Math.ceil(bytes / VOLUME_BYTES);
		assert.ok(nVolumes >= 3, `the fixture should span several volumes, not ${nVolumes}`);
		assert.equal(exportA.volumes, nVolumes);
		assert.equal(exportA.kept, 0);
		assert.equal(exportA.keyId, outerKeyId, "signed by the outer instance's key");

		const names = (await readdir(bundleA)).sort();
		assert.deepEqual(names, ["bundle.json", ...Array.from({ length: nVolumes }, (_, i) => volumeName(i))], "no plan or partial file left");
		for (let i = 0; i < nVolumes; i++) {
			const expected = i < nVolumes - 1 ? VOLUME_BYTES : bytes - (nVolumes - 1) * VOLUME_BYTES;
			assert.equal((await stat(join(bundleA, volumeName(i)))).size, expected, volumeName(i));
		}

		const { bundle, signature } = await readBundle(bundleA);
		assert.equal(typeof signature, "string");
		assert.equal(bundle.key_id, outerKeyId);
		assert.equal(bundle.volume_size, VOLUME_BYTES);
		assert.equal(bundle.volumes, nVolumes);
		assert.equal(bundle.bytes, bytes);
		assert.deepEqual(bundle.repos.map((r) => `${r.type} ${r.name}`).sort(), REPOS.map((r) => `${r.type} ${r.name}`).sort());
		assert.deepEqual(bundle.blobs.map((b) => b.sha256).sort(), [...CONTENT.keys()].sort());
		// The stream: the blobs back to back, each one's bytes at its offset.
		const stream = Buffer.concat(await Promise.all(Array.from({ length: nVolumes }, (_, i) => readFile(join(bundleA, volumeName(i))))));
		let offset = 0;
		for (const blob of [...bundle.blobs].sort((x, y) => x.offset - y.offset)) {
			assert.equal(blob.offset, offset, `${blob.sha256}: offset`);
			assert.equal(blob.size, CONTENT.get(blob.sha256).length, `${blob.sha256}: size`);
			assert.ok(stream.subarray(offset, offset + blob.size).equals(CONTENT.get(blob.sha256)), `${blob.sha256}: bytes in the volumes`);
			offset += blob.size;
		}
		assert.equal(offset, bytes);
	});

	test("import-bundle: trusted, every repo, commit and blob new", () => {
		assert.equal(importA.signer, outerKeyId);
		assert.equal(importA.trusted, true);
		assert.equal(importA.repos, REPOS.length);
		assert.equal(importA.commits, REPOS.length);
		assert.equal(importA.published, REPOS.length);
		assert.equal(importA.newBlobs, CONTENT.size);
		assert.equal(importA.newBytes, totalBytes());
		assert.equal(importA.already, 0);
		assert.doesNotMatch(importA.run.stdout + importA.run.stderr, /UNTRUSTED/i);
	});

	test("both sides serve every file, repo info, refs, commits and trees alike", { timeout: 20_000 }, async () => {
		await withServers([outer, innerA], async (o, i) => {
			for (const repo of REPOS) {
				const info = await assertServedAlike(o, i, repo, repo.files);
				assert.equal(info.sha, repo.commit, `${repo.name}: the imported commit`);
			}
			for (const api of ["api/models?full=true", "api/datasets?full=true"]) {
				const [a, b] = [await getJson(`${o.url}/${api}`), await getJson(`${i.url}/${api}`)];
				assert.deepEqual(b.map(portableInfo), a.map(portableInfo), `/${api}`);
			}
		});
	});

	test("lineage: the same text from hubmirror lineage, the same /api/lineage JSON", { timeout: 20_000 }, async (t) => {
		for (const args of [[QUANT, "--up"], [ROOT, "--down"], [FT, "--stats"]]) {
			const [a, b] = [await runLogged(t, ["lineage", "--data", outer, ...args]), await runLogged(t, ["lineage", "--data", innerA, ...args])];
			assert.equal(a.code, 0, `outer: lineage ${args.join(" ")}`);
			assert.equal(b.code, 0, `inner: lineage ${args.join(" ")}`);
			assert.equal(b.stdout, a.stdout, `lineage ${args.join(" ")}`);
		}
		const up = await runLogged(t, ["lineage", "--data", innerA, QUANT, "--up"]);
		assert.match(up.stdout, new RegExp(`quantized of: ${FT}`));
		assert.match(up.stdout, new RegExp(`^foundation: ${ROOT}$`, "m"));
		const down = await runLogged(t, ["lineage", "--data", innerA, ROOT, "--down"]);
		assert.match(down.stdout, new RegExp(`: ${FT}$`, "m"));
		assert.match(down.stdout, new RegExp(`quantized: ${QUANT}$`, "m"));

		await withServers([outer, innerA], async (o, i) => {
			for (const query of [`${ROOT}?direction=both`, `${QUANT}?direction=up`, `${FT}?direction=both&stats=true`]) {
				const url = `api/lineage/models/${query}`;
				const [a, b] = [await getJson(`${o.url}/${url}`), await getJson(`${i.url}/${url}`)];
				assert.deepEqual(b, a, `/${url}`);
			}
			const graph = await getJson(`${i.url}/api/lineage/models/${ROOT}?direction=both`);
			const edges = graph.edges.map((e) => `${e.child} -${e.relation}-> ${e.parent}`).sort();
			assert.deepEqual(edges, [`${FT} -finetune-> ${ROOT}`, `${QUANT} -quantized-> ${FT}`].sort());
		});
	});

	test("inventory: the same repos, refs, commits and blobs on both sides", async (t) => {
		const [a, b] = [await runLogged(t, ["inventory", "--data", outer, "--json"]), await runLogged(t, ["inventory", "--data", innerA, "--json"])];
		assert.equal(a.code, 0);
		assert.equal(b.code, 0);
		const [ia, ib] = [JSON.parse(a.stdout), JSON.parse(b.stdout)];
		const byName = (x, y) => `${x.type} ${x.name}`.localeCompare(`${y.type} ${y.name}`);
		assert.deepEqual([...ib.repos].sort(byName), [...ia.repos].sort(byName));
		assert.deepEqual([...ib.blobs].sort(), [...ia.blobs].sort());
		assert.deepEqual([...ib.blobs].sort(), [...CONTENT.keys()].sort());
		for (const repo of REPOS) {
			const entry = ib.repos.find((r) => r.name === repo.name && r.type === repo.type);
			assert.ok(entry, `${repo.name} in the inventory`);
			assert.deepEqual(entry.refs, { main: repo.commit });
			assert.deepEqual(entry.commits, [repo.commit]);
		}
		// And the text form says the same.
		const text = await runLogged(t, ["inventory", "--data", innerA]);
		assert.equal(text.code, 0);
		assert.match(text.stdout, new RegExp(`^${REPOS.length} repos, ${CONTENT.size} blobs$`, "m"));
	});
});
