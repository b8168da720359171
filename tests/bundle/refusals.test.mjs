// Air-gapped transfer, refused bundles (exit 1, the problem named, nothing published): a flipped
// byte in a volume, an altered bundle.json, an unknown signer, a missing or short volume;
// --allow-untrusted accepts an unknown signer loudly, but still verifies the content.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test refusals.test.mjs
//
// Plain Node 20 (no npm packages); everything on 127.0.0.1 with port 0, in a temporary directory
// removed afterwards.

import assert from "node:assert/strict";
import { truncate, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";

import { flipByte, runLogged, sha256Hex } from "../support/harness.mjs";
import { bundleA, CONTENT, DATASET, FT, importArgs, importBundle, LOCAL, otherPem, outerKeyId, outerPem, prior, QUANT, readBundle, REPOS, ROOT, useBundleFixture, visibleState, VOLUME_BYTES, volumeName } from "./bundle_fixture.mjs";

const work = useBundleFixture("hubmirror-bundle-refusals-");

function blobCovering(bundle, streamOffset) {
	const blob = bundle.blobs.find((b) => b.offset <= streamOffset && streamOffset < b.offset + b.size);
	assert.ok(blob, `no blob at stream offset ${streamOffset}`);
	return blob;
}

/**
 * Each case damages a copy of bundle A (or picks keys) and says what the refusal must name. The
 * import runs against a copy of the data dir with state of its own, which must not change.
 */
const REFUSALS = [
	{
		name: "a flipped byte in a volume",
		async damage(dir) {
			const { bundle } = await readBundle(dir);
			const within = 12345;
			await flipByte(join(dir, volumeName(1)), within);
			const blob = blobCovering(bundle, VOLUME_BYTES + within);
			return new RegExp(`blob ${blob.sha256} of the bundle: sha256 mismatch: expected ${blob.sha256}, got [0-9a-f]{64}`);
		},
	},
	{
		name: "bundle.json altered: a repo renamed",
		async damage(dir) {
			const document = await readBundle(dir);
			document.bundle.repos.find((r) => r.name === ROOT).name = "acme/not-what-was-signed";
			await writeFile(join(dir, "bundle.json"), JSON.stringify(document, null, 1));
			return new RegExp(`signature does not match its content: it was altered after key ${outerKeyId} signed it`);
		},
	},
	{
		name: "bundle.json altered: a blob's sha256 changed",
		async damage(dir) {
			const document = await readBundle(dir);
			document.bundle.blobs[0].sha256 = sha256Hex(Buffer.from("something else"));
			await writeFile(join(dir, "bundle.json"), JSON.stringify(document, null, 1));
			return /signature does not match its content/;
		},
	},
	{
		name: "bundle.json altered: the signature",
		async damage(dir) {
			const document = await readBundle(dir);
			const sig = Buffer.from(document.signature, "base64");
			sig[5] ^= 0x01;
			document.signature = sig.toString("base64");
			await writeFile(join(dir, "bundle.json"), JSON.stringify(document, null, 1));
			return /signature does not match its content/;
		},
	},
	{
		name: "an unknown signer: only another instance's key trusted",
		keys: () => [otherPem],
		async damage() {
			return new RegExp(`signed by key ${outerKeyId}, which is not trusted: pass its public key with --trusted-key`);
		},
	},
	{
		name: "a missing volume",
		async damage(dir) {
			await unlink(join(dir, volumeName(2)));
			return new RegExp(`the bundle's ${volumeName(2).replaceAll(".", "\\.")} is missing`);
		},
	},
	{
		name: "a short volume",
		async damage(dir) {
			await truncate(join(dir, volumeName(0)), 1000);
			return new RegExp(`the bundle's ${volumeName(0).replaceAll(".", "\\.")} has 1000 bytes, expected ${VOLUME_BYTES}`);
		},
	},
	{
		name: "--allow-untrusted and an unknown signer, but a blob's sha256 changed in bundle.json",
		keys: () => [otherPem],
		extra: ["--allow-untrusted"],
		async damage(dir) {
			const document = await readBundle(dir);
			const [blob] = document.bundle.blobs;
			const forged = sha256Hex(Buffer.from("forged"));
			blob.sha256 = forged;
			await writeFile(join(dir, "bundle.json"), JSON.stringify(document, null, 1));
			return new RegExp(`blob ${forged} of the bundle: sha256 mismatch`);
		},
	},
];

describe("d. refused bundles: exit 1, the problem named, nothing published", () => {
	for (const c of REFUSALS) {
		test(c.name, { timeout: 20_000 }, async (t) => {
			const bundle = await work.copy(bundleA, "bundle-d");
			const expected = await c.damage(bundle);
			const inner = await work.copy(prior, "inner-d");
			const before = await visibleState(t, inner);
			assert.equal(before.models.length, 1, "the inner side's own repo");

			const run = await runLogged(t, importArgs(inner, bundle, { keys: c.keys?.() ?? [outerPem], extra: c.extra ?? [] }));
			assert.equal(run.code, 1, `exit 1 (stderr: ${run.stderr})`);
			assert.match(run.stderr, new RegExp(`^hubmirror: bundle ${bundle.replaceAll("/", "\\/")} refused, nothing published: `, "m"));
			assert.match(run.stderr, expected);
			assert.doesNotMatch(run.stdout, /^imported bundle/m);
			assert.deepEqual(await visibleState(t, inner), before, "listings and inventory unchanged");
		});
	}

	test("--allow-untrusted accepts an unknown signer, and says so loudly", { timeout: 20_000 }, async (t) => {
		const inner = await work.copy(prior, "inner-d-untrusted");
		const imported = await importBundle(t, inner, bundleA, { keys: [otherPem], extra: ["--allow-untrusted"] });
		assert.equal(imported.trusted, false);
		assert.equal(imported.signer, outerKeyId);
		assert.match(imported.run.stdout, /\(NOT TRUSTED\)/);
		assert.match(imported.run.stderr, new RegExp(`IMPORTING A BUNDLE FROM AN UNTRUSTED SIGNER \\(key ${outerKeyId}\\)`));
		assert.equal(imported.newBlobs, CONTENT.size);
		assert.equal(imported.published, REPOS.length);
		const state = await visibleState(t, inner);
		assert.deepEqual(state.models.map((m) => m.id).sort(), [ROOT, FT, QUANT, LOCAL].sort());
		assert.deepEqual(state.datasets.map((m) => m.id), [DATASET]);

		// Without any key at all, too.
		const alone = await importBundle(t, await work.copy(prior, "inner-d-untrusted-nokey"), bundleA, { keys: [], extra: ["--allow-untrusted"] });
		assert.equal(alone.trusted, false);
		assert.match(alone.run.stdout, /\(NOT TRUSTED\)/);
	});

	test("a trusted key next to an unknown one is enough", { timeout: 20_000 }, async (t) => {
		const imported = await importBundle(t, await work.copy(prior, "inner-d-two-keys"), bundleA, { keys: [otherPem, outerPem] });
		assert.equal(imported.trusted, true);
	});
});
