// What the sync fault tests (sync_*.test.mjs) share: the repos the fake Hub serves, the sync
// settings, and the assertions on what the mirror published and what the hub sent. Plain Node 20.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";

import { filesUnder, pseudoRandomBytes, sha256Hex, withServers } from "../support/harness.mjs";
import { assertRepoServed, hubScenarios } from "./scenario.mjs";

export const RETRIES = 2;
export const STALL_TIMEOUT_S = 2;
export const TOKEN_ENV = "FAULT_HUB_TOKEN";
export const APPROVED_TOKEN = `hf_approved${randomBytes(12).toString("hex")}`;
export const UNAPPROVED_TOKEN = `hf_unapproved${randomBytes(12).toString("hex")}`;

export const LFS_BIG = "model.safetensors";
export const LFS_SHARD = "shards/pytorch_model-00001-of-00002.bin";
export const TOKENIZER = "tokenizer.json";
export const CONFIG = "config.json";
const SPACED = "docs/read me.txt";
export const LFS_HUGE = "consolidated.safetensors";
const HUGE_SIZE = 40 * 1024 * 1024 + 12345; // a partial last chunk

/** The scenarios of one sync test file (see scenario.mjs), with this folder's retry settings. */
export function syncScenarios(prefix) {
	return hubScenarios({ prefix, retries: RETRIES, stallTimeout: STALL_TIMEOUT_S, timeout: 40_000, runTimeoutMs: 30_000 });
}

// ---------------------------------------------------------------------------------------------
// Repos
// ---------------------------------------------------------------------------------------------

const GITATTRIBUTES = [
	"*.bin filter=lfs diff=lfs merge=lfs -text",
	"*.h5 filter=lfs diff=lfs merge=lfs -text",
	"*.safetensors filter=lfs diff=lfs merge=lfs -text",
	"*.pt filter=lfs diff=lfs merge=lfs -text",
	"",
].join("\n");

function tokenizerJson(seed) {
	const vocab = {};
	for (let i = 0; i < 4000; i++) {
		vocab[`${seed.slice(0, 3)}tok${i.toString(36)}`] = i;
	}
	return JSON.stringify({ version: "1.0", model: { type: "BPE", vocab } }, null, 1) + "\n";
}

/**
 * A model repo as the Hub would list it: git-stored small files (one with a space in its path)
 * and two LFS files. With 2 entries a page, its recursive tree (7 files, 2 directories) takes 5
 * pages.
 */
export function modelRepo(id, extra = {}) {
	const seed = id;
	return {
		id,
		cardData: { license: "mit", base_model: "acme/base" },
		tags: ["transformers", "safetensors", "license:mit", "base_model:finetune:acme/base", "region:us"],
		files: [
			{ path: ".gitattributes", content: Buffer.from(GITATTRIBUTES) },
			{ path: "README.md", content: Buffer.from(`---\nlicense: mit\nbase_model: acme/base\n---\n\n# ${id}\n`) },
			{ path: CONFIG, content: Buffer.from(JSON.stringify({ model_type: "llama", hidden_size: 64, seed }) + "\n") },
			{ path: TOKENIZER, content: Buffer.from(tokenizerJson(seed)) },
			{ path: SPACED, content: Buffer.from(`notes for ${id}\nsecond line\n`) },
			{ path: LFS_BIG, content: pseudoRandomBytes(`${seed}/${LFS_BIG}`, 256 * 1024 + 37), lfs: true },
			{ path: LFS_SHARD, content: pseudoRandomBytes(`${seed}/${LFS_SHARD}`, 96 * 1024 + 5), lfs: true },
		],
		...extra,
	};
}

/** modelRepo with one more LFS file, large enough to be downloaded as parallel ranges. */
export function largeFileRepo(id) {
	const spec = modelRepo(id);
	spec.files.push({ path: LFS_HUGE, content: pseudoRandomBytes(`${id}/${LFS_HUGE}`, HUGE_SIZE), lfs: true });
	return spec;
}

// ---------------------------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------------------------

/**
 * Serves the mirror and checks every file of the upstream repo: bytes, ETag, X-Repo-Commit (read
 * with `options.token`, a token of the mirror, when given).
 */
export function assertMirrored(dataDir, hub, repoId, options) {
	return withServers([dataDir], (mirror) => assertRepoServed(mirror, hub, repoId, options));
}

/** The repo must not be visible in the mirror at all. */
export function assertNotPublished(dataDir, repoId) {
	return withServers([dataDir], async (mirror) => {
		const res = await fetch(`${mirror.url}/api/models/${repoId}`);
		assert.equal(res.status, 404, `mirror /api/models/${repoId} must be 404 after a refused sync, got ${res.status}`);
		assert.equal(res.headers.get("x-error-code"), "RepoNotFound");
		const file = await fetch(`${mirror.url}/${repoId}/resolve/main/${CONFIG}`);
		assert.equal(file.status, 404, `mirror must not serve ${repoId}/${CONFIG}`);
		await file.arrayBuffer();
	});
}

/** No file body was sent twice: across all attempts, each file's bytes went out exactly once. */
export function assertEachFileServedOnce(hub, repoId) {
	for (const file of hub.repo(repoId).files.values()) {
		assert.equal(
			hub.bytesServed(repoId, file.path),
			file.size,
			`${file.path}: ${hub.bytesServed(repoId, file.path)} body bytes were sent for a ${file.size}-byte file`,
		);
	}
}

export function assertCdnNeverSawAuthorization(hub) {
	const leaked = hub.requests({ server: "cdn" }).filter((r) => r.authorization !== null);
	assert.equal(leaked.length, 0, `Authorization reached the CDN on ${leaked.map((r) => `#${r.n}`).join(", ")}`);
}

export function assertSecretNotPrinted(run, secret) {
	assert.ok(!run.stdout.includes(secret) && !run.stderr.includes(secret), "the token must never be printed");
}

/** A sync that met wrong bytes of `path` failed naming the repo, the file and both digests. */
export function assertDigestMismatchReported(run, repoId, path, expected, actual) {
	assert.equal(run.code, 1, "a file that never verifies must fail the sync");
	assert.ok(run.stderr.includes(repoId), "stderr names the repo");
	assert.ok(run.stderr.includes(path), "stderr names the file");
	assert.ok(run.stderr.includes(expected), `stderr gives the expected digest ${expected}`);
	assert.ok(run.stderr.includes(actual), `stderr gives the digest of the bytes received, ${actual}`);
}

/**
 * After a sync refused the wrong bytes `bad`: they are nowhere in the store and nothing is
 * published. Then the upstream is repaired, and the next sync publishes the repo: nothing the
 * refused sync left behind may stand in the way.
 */
export async function assertRefusedThenRepaired(ctx, data, repoId, bad) {
	assert.deepEqual(await filesWithDigest(join(data, "blobs"), bad.length, sha256Hex(bad)), [], "the bad bytes entered the store");
	await assertNotPublished(data, repoId);
	ctx.hub.clearFaults();
	const repaired = await ctx.sync(data, [repoId]);
	assert.equal(repaired.code, 0, "once the upstream serves the right bytes, the sync succeeds");
	await assertMirrored(data, ctx.hub, repoId);
}

/** Paths of regular files under `root` whose sha256 is `digest` (the store's layout does not matter). */
async function filesWithDigest(root, size, digest) {
	const hits = [];
	for (const f of await filesUnder(root)) {
		const st = await stat(f);
		if (st.size === size && sha256Hex(await readFile(f)) === digest) hits.push(f);
	}
	return hits;
}
