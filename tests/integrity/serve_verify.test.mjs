// `hubmirror serve` hashes whole files as it sends them, without `verify`: a corrupt large file is
// cut short, a corrupt small one refused, both quarantined; files of 16 MiB or more only with
// --verify-on-read.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test serve_verify.test.mjs
//
// Plain Node 20 (no npm packages); everything on 127.0.0.1 with port 0, in a temporary directory
// removed afterwards.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { before, describe, test } from "node:test";

import { BIN, blobPath, flipByte, importRepo, pseudoRandomBytes, rawGet, serveHubmirror, sha256Hex, writeSource } from "../support/harness.mjs";
import { assertRefused, assertServed, baseData, CONFIG, files, fileUrl, MiB, MODEL, MODEL_SIZE, quarantined, useIntegrityFixture } from "./integrity_fixture.mjs";

const work = useIntegrityFixture("hubmirror-serve-verify-");

// The size under which `serve` verifies whole files by default (api/server.h verify_below_bytes).
const HUGE = "huge.safetensors";
const HUGE_SIZE = 17 * MiB + 11;

describe("c. serve verifies whole files as it sends them", () => {
	test("a corrupt large file is cut short, then refused, and quarantined", { timeout: 30_000 }, async () => {
		const data = await work.copy(baseData, "read-large");
		const sha = sha256Hex(files.get(MODEL));
		const server = await serveHubmirror(BIN, data);
		try {
			await flipByte(blobPath(data, sha), 1000);
			const cut = await rawGet(fileUrl(server, MODEL));
			assert.equal(cut.status, 200, "the header leaves before the digest is known");
			assert.equal(Number(cut.headers["content-length"]), MODEL_SIZE);
			assert.equal(cut.complete, false, "the connection must close before the body is complete");
			assert.ok(cut.body.length < MODEL_SIZE, `received ${cut.body.length} of ${MODEL_SIZE} bytes`);
			assertRefused(await rawGet(fileUrl(server, MODEL)), MODEL, files.get(MODEL));
			assert.deepEqual((await quarantined(data)).map((n) => n.split(".")[0]), [sha]);
			assert.match(server.stderr(), new RegExp(`failed verification as it was served: sha256 expected ${sha}, actual [0-9a-f]{64}; quarantined`));
			// The other files are untouched.
			assertServed(await rawGet(fileUrl(server, CONFIG)), CONFIG, files.get(CONFIG));
		} finally {
			await server.stop();
		}
	});

	test("a corrupt small file is refused without any of its bytes, and quarantined", { timeout: 30_000 }, async () => {
		const data = await work.copy(baseData, "read-small");
		const sha = sha256Hex(files.get(CONFIG));
		const server = await serveHubmirror(BIN, data);
		try {
			assertServed(await rawGet(fileUrl(server, CONFIG)), CONFIG, files.get(CONFIG));
			await flipByte(blobPath(data, sha), files.get(CONFIG).length - 2);
			assertRefused(await rawGet(fileUrl(server, CONFIG)), CONFIG, files.get(CONFIG));
			assertRefused(await rawGet(fileUrl(server, CONFIG)), CONFIG, files.get(CONFIG));
			assert.deepEqual((await quarantined(data)).map((n) => n.split(".")[0]), [sha]);
		} finally {
			await server.stop();
		}
	});

	describe("files of 16 MiB or more", () => {
		let hugeData;
		let huge;
		before(async (t) => {
			huge = pseudoRandomBytes(HUGE, HUGE_SIZE);
			const src = work.dir("huge-src");
			await writeSource(src, [[HUGE, huge]]);
			hugeData = work.dir("huge-data");
			await importRepo(t, hugeData, src, "acme/huge");
		});

		async function corruptCopy(label) {
			const data = await work.copy(hugeData, label);
			await flipByte(blobPath(data, sha256Hex(huge)), HUGE_SIZE - 1);
			return data;
		}

		test("with --verify-on-read, a corrupt one is cut short", { timeout: 30_000 }, async () => {
			const data = await corruptCopy("huge-verify");
			const server = await serveHubmirror(BIN, data, { args: ["--verify-on-read"] });
			try {
				const cut = await rawGet(fileUrl(server, HUGE, "acme/huge"));
				assert.equal(cut.status, 200);
				assert.equal(Number(cut.headers["content-length"]), HUGE_SIZE);
				assert.equal(cut.complete, false, "the connection must close before the body is complete");
				assert.ok(cut.body.length < HUGE_SIZE, `received ${cut.body.length} of ${HUGE_SIZE} bytes`);
				assertRefused(await rawGet(fileUrl(server, HUGE, "acme/huge")), HUGE, huge);
				assert.equal((await quarantined(data)).length, 1);
			} finally {
				await server.stop();
			}
		});

		// Documented limitation: above 16 MiB files are sent with sendfile, unhashed, unless
		// --verify-on-read; only `verify` finds their damage. Pinned so that a change is seen.
		test("without --verify-on-read, a corrupt one is served as stored", { timeout: 30_000 }, async () => {
			const data = await corruptCopy("huge-plain");
			const stored = await readFile(blobPath(data, sha256Hex(huge)));
			const server = await serveHubmirror(BIN, data);
			try {
				assertServed(await rawGet(fileUrl(server, HUGE, "acme/huge")), HUGE, stored);
				assert.deepEqual(await quarantined(data), []);
			} finally {
				await server.stop();
			}
		});
	});
});
