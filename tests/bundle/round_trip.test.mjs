// Air-gapped transfer, round trip: `hubmirror export --all` in several volumes, `hubmirror
// import-bundle` with the outer instance's public key (from its /api/integrity/key); both sides
// then serve the same bytes, headers, repo info, refs, commits, trees and lineage, and list the
// same inventory. Then a repo synced from a fake Hub with a tag, a pull request, a conversion and
// the upstream's flags (private and gated): the inner instance shows every ref and flag the outer
// one shows and enforces the flags, to readers of its own (users, tokens and grants never travel),
// and a tag it has at another commit refuses the bundle.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test round_trip.test.mjs
//
// Plain Node 20 (no npm packages); everything on 127.0.0.1 with port 0, in a temporary directory
// removed afterwards.

import assert from "node:assert/strict";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";

import { startFakeHub } from "../fault_upstream/fake_hub.mjs";
import { assertGatedAnonymously, bearer, BIN, createMirrorToken, getJson, pseudoRandomBytes, runLogged, withServers } from "../support/harness.mjs";
import { assertServedAlike, bundleA, CONTENT, exportA, exportBundle, FT, importA, importArgs, importBundle, innerA, outer, outerKeyId, publicKeyOf, QUANT, readBundle, REPOS, ROOT, totalBytes, useBundleFixture, VOLUME_BYTES, volumeName } from "./bundle_fixture.mjs";

const work = useBundleFixture("hubmirror-bundle-round-trip-");

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
				assert.deepEqual(b, a, `/${api}`);
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

// A model with a file of each ref's own, gated and private upstream (a token syncs it), with the
// flags and details a mirror keeps.
const REFS_REPO = "acme/bundle-refs";
const TOKEN_ENV = "HUBMIRROR_BUNDLE_TEST_TOKEN";
const TOKEN = "hf_bundle_refs_approved";
const REF_FILES = {
	main: [
		{ path: "config.json", content: Buffer.from('{"model_type": "llama"}\n') },
		{ path: "model.safetensors", content: pseudoRandomBytes("refs-main", 150_000), lfs: true },
	],
	"v1.0": [{ path: "model.safetensors", content: pseudoRandomBytes("refs-v1", 90_000), lfs: true }],
	"refs/pr/16": [
		{ path: "config.json", content: Buffer.from('{"model_type": "llama", "rope_theta": 5e5}\n') },
		{ path: "pr notes.txt", content: Buffer.from("a pull request's own file\n") },
	],
	"refs/convert/parquet": [{ path: "default/train/0000.parquet", content: pseudoRandomBytes("refs-parquet", 70_000), lfs: true }],
};
const REFS_SPEC = {
	id: REFS_REPO,
	files: REF_FILES.main,
	refs: {
		tags: { "v1.0": { files: REF_FILES["v1.0"] } },
		pullRequests: { 16: { files: REF_FILES["refs/pr/16"] } },
		converts: { parquet: { files: REF_FILES["refs/convert/parquet"] } },
	},
	gated: "auto",
	private: true,
	approvedTokens: [TOKEN],
	author: "acme",
	createdAt: "2023-02-03T04:05:06.789Z",
	lastModified: "2024-11-12T13:14:15.161Z",
	likes: 17,
	downloads: 4321,
	cardData: { license: "mit", language: ["en"] },
	tags: ["llama", "text-generation"],
	config: { architectures: ["LlamaForCausalLM"], model_type: "llama" },
	safetensors: { parameters: { BF16: 75000 }, total: 75000 },
};
/** The revisions synced, as `hubmirror sync` and the file URLs name them. */
const REVISIONS = Object.keys(REF_FILES);

/** `hubmirror sync` of every ref of REFS_REPO from `hub` into `data`, which must succeed. */
async function syncRefs(t, hub, data) {
	const revisions = REVISIONS.map((rev) => `${REFS_REPO}@${rev}`);
	const run = await runLogged(t, ["sync", "--data", data, "--upstream", hub.url, "--token-env", TOKEN_ENV, ...revisions], { env: { [TOKEN_ENV]: TOKEN }, timeoutMs: 60_000 });
	assert.equal(run.code, 0, `hubmirror sync failed (exit ${run.code}): ${run.stderr}`);
}

/** The files of a revision, as assertServedAlike takes them. */
function filesOf(rev) {
	return new Map(REF_FILES[rev].map((f) => [f.path, f.content]));
}

/** The repo info fields that must read the same on both sides. */
const INFO_FIELDS = ["_id", "author", "sha", "gated", "private", "disabled", "createdAt", "lastModified", "likes", "downloads", "config", "safetensors", "cardData", "tags"];

describe("b. refs of every kind and the repo's flags travel", () => {
	test("the inner instance shows every ref, flag and file the outer one shows", { timeout: 90_000 }, async (t) => {
		const synced = work.dir("refs-outer");
		const moved = work.dir("refs-outer-tag-moved");
		const hub = await startFakeHub({ repos: [REFS_SPEC] });
		try {
			await syncRefs(t, hub, synced);
			// The tag moves upstream; an instance synced since has it at another commit.
			hub.setRef(REFS_REPO, "refs/tags/v1.0", { files: [{ path: "model.safetensors", content: pseudoRandomBytes("refs-v1-again", 1000), lfs: true }] });
			await syncRefs(t, hub, moved);
		} finally {
			await hub.close();
		}
		const keys = work.dir("refs-keys");
		const [syncedPem, movedPem] = [join(keys, "outer.pem"), join(keys, "moved.pem")];
		await publicKeyOf(synced, syncedPem);
		await publicKeyOf(moved, movedPem);

		const bundle = work.dir("refs-bundle");
		const exported = await exportBundle(t, synced, bundle, ["--all"]);
		assert.equal(exported.commits, REVISIONS.length, "the commit of every ref, each its own");
		const [written] = (await readBundle(bundle)).bundle.repos;
		assert.deepEqual(Object.keys(written.refs), ["main"]);
		assert.deepEqual(Object.keys(written.tags), ["v1.0"]);
		assert.deepEqual(Object.keys(written.pull_requests), ["16"]);
		assert.deepEqual(Object.keys(written.converts), ["parquet"]);
		assert.equal(written.gated, "auto");
		assert.equal(written.private, true);

		const inner = work.dir("refs-inner");
		const imported = await importBundle(t, inner, bundle, { keys: [syncedPem] });
		assert.equal(imported.commits, REVISIONS.length);
		assert.equal(imported.published, REVISIONS.length, "every ref published");

		// Each side is read by a user of its own granted access (users do not travel: the name is free inside).
		const outerToken = await createMirrorToken(BIN, synced, "reader", { grants: [REFS_REPO] });
		const innerToken = await createMirrorToken(BIN, inner, "reader", { grants: [REFS_REPO] });
		const tokens = { outerToken, innerToken };
		const refsUrl = `api/models/${REFS_REPO}/refs?include_prs=1`;
		await withServers([synced, inner], async (o, i) => {
			const foreign = await fetch(`${i.url}/${refsUrl}`, { headers: bearer(outerToken) });
			await foreign.arrayBuffer();
			assert.equal(foreign.status, 401, "a token of the outer instance is unknown to the inner one");
			assert.equal(foreign.headers.get("x-error-message"), "Invalid credentials in Authorization header");
			for (const [side, server] of [["outer", o], ["inner", i]]) {
				for (const path of [refsUrl, `${REFS_REPO}/resolve/main/config.json`]) {
					const res = await fetch(`${server.url}/${path}`);
					await res.arrayBuffer();
					assert.equal(res.status, 404, `${side}: a private repo, anonymously: /${path}`);
					assert.equal(res.headers.get("x-error-code"), "RepoNotFound", `${side}: /${path}`);
				}
			}

			const [refsA, refsB] = [await getJson(`${o.url}/${refsUrl}`, bearer(outerToken)), await getJson(`${i.url}/${refsUrl}`, bearer(innerToken))];
			assert.deepEqual(
				["branches", "tags", "pullRequests", "converts"].map((kind) => refsA[kind].map((r) => r.ref)),
				[["refs/heads/main"], ["refs/tags/v1.0"], ["refs/pr/16"], ["refs/convert/parquet"]],
				"the outer instance has every ref",
			);
			for (const field of Object.keys(refsA)) assert.deepEqual(refsB[field], refsA[field], `/refs: ${field}`);
			assert.deepEqual(Object.keys(refsB).sort(), Object.keys(refsA).sort(), "/refs: the same fields");

			const infoUrl = `api/models/${REFS_REPO}`;
			const [infoA, infoB] = [await getJson(`${o.url}/${infoUrl}`, bearer(outerToken)), await getJson(`${i.url}/${infoUrl}`, bearer(innerToken))];
			const expected = { gated: "auto", private: true, disabled: false, createdAt: REFS_SPEC.createdAt, likes: 17, downloads: 4321, config: REFS_SPEC.config, safetensors: REFS_SPEC.safetensors, cardData: REFS_SPEC.cardData };
			for (const [field, value] of Object.entries(expected)) assert.deepEqual(infoA[field], value, `the outer instance's ${field}`);
			for (const field of INFO_FIELDS) assert.deepEqual(infoB[field], infoA[field], `repo info: ${field}`);

			for (const rev of REVISIONS) await assertServedAlike(o, i, { type: "model", name: REFS_REPO }, filesOf(rev), encodeURIComponent(rev), tokens);
			// A pull request named by literal segments, as clients write it.
			const url = `${REFS_REPO}/resolve/refs/pr/16/config.json`;
			const [ra, rb] = [await fetch(`${o.url}/${url}`, { headers: bearer(outerToken) }), await fetch(`${i.url}/${url}`, { headers: bearer(innerToken) })];
			assert.equal(rb.status, 200, `inner ${url}`);
			const [ba, bb] = [Buffer.from(await ra.arrayBuffer()), Buffer.from(await rb.arrayBuffer())];
			assert.ok(bb.equals(ba) && bb.equals(filesOf("refs/pr/16").get("config.json")), `${url}: the pull request's bytes`);
		});

		// Tags do not move: a bundle whose tag is elsewhere is refused, naming it, and changes nothing.
		const movedBundle = work.dir("refs-bundle-tag-moved");
		await exportBundle(t, moved, movedBundle, ["--all"]);
		const before = await withServers([inner], (i) => getJson(`${i.url}/${refsUrl}`, bearer(innerToken)));
		const refused = await runLogged(t, importArgs(inner, movedBundle, { keys: [movedPem] }));
		assert.equal(refused.code, 1, "a tag that would move refuses the bundle");
		assert.match(refused.stderr, /refused, nothing published: .*tag v1\.0 already points at [0-9a-f]{40}/);
		assert.deepEqual(await withServers([inner], (i) => getJson(`${i.url}/${refsUrl}`, bearer(innerToken))), before, "the inner refs are unchanged");

		// The gate travelled as well: made public on the inner instance, the repo's content still needs access.
		const settings = await runLogged(t, ["--data", inner, "repo", "settings", REFS_REPO, "--private", "false"]);
		assert.equal(settings.code, 0, `hubmirror repo settings failed: ${settings.stderr}`);
		await withServers([inner], (i) => assertGatedAnonymously(`${i.url}/${REFS_REPO}/resolve/main/config.json`));
	});
});
