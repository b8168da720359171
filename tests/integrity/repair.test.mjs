// `hubmirror sync` from another hubmirror repairs what `hubmirror verify` found: a corrupt or
// missing blob of a revision that is otherwise up to date is fetched again.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test repair.test.mjs
//
// Plain Node 20 (no npm packages); everything on 127.0.0.1 with port 0, in a temporary directory
// removed afterwards.

import assert from "node:assert/strict";
import { unlink } from "node:fs/promises";
import { after, before, describe, test } from "node:test";

import { BIN, blobPath, flipByte, rawGet, runLogged, serveHubmirror, sha256Hex } from "../support/harness.mjs";
import { assertServed, baseData, commitId, CONFIG, files, fileUrl, MODEL, MODEL_SIZE, REPO, useIntegrityFixture } from "./integrity_fixture.mjs";

const work = useIntegrityFixture("hubmirror-repair-");

describe("b. sync from another hubmirror repairs what verify found", () => {
	let upstream;
	before(async () => {
		upstream = await serveHubmirror(BIN, await work.copy(baseData, "upstream"));
	});
	after(async () => {
		await upstream?.stop();
	});

	async function mirror(t) {
		const data = work.dir("mirror");
		const run = await runLogged(t, ["sync", "--data", data, "--upstream", upstream.url, REPO]);
		assert.equal(run.code, 0, "the first sync");
		assert.match(run.stdout, new RegExp(`mirrored ${commitId}, ${files.size} files, downloaded ${files.size} `));
		return data;
	}

	for (const [label, path, damage] of [
		["a corrupt LFS file", MODEL, (p) => flipByte(p, MODEL_SIZE - 1)],
		["a missing small file", CONFIG, (p) => unlink(p)],
	]) {
		test(`${label} is fetched again though the revision is up to date`, { timeout: 30_000 }, async (t) => {
			const data = await mirror(t);
			await damage(blobPath(data, sha256Hex(files.get(path))));

			assert.equal((await runLogged(t, ["verify", "--data", data])).code, 1, "verify finds the damage");
			const repair = await runLogged(t, ["sync", "--data", data, "--upstream", upstream.url, REPO]);
			assert.equal(repair.code, 0, "the repairing sync");
			assert.match(
				repair.stdout,
				new RegExp(`^${REPO}@main: mirrored ${commitId}, ${files.size} files, downloaded 1 \\(${files.get(path).length} bytes\\)$`, "m"),
			);

			// Served at once (the sync marked the blob good again), before any new verify.
			const server = await serveHubmirror(BIN, data);
			try {
				for (const [p, content] of files) assertServed(await rawGet(fileUrl(server, p)), p, content);
			} finally {
				await server.stop();
			}
			const verified = await runLogged(t, ["verify", "--data", data]);
			assert.equal(verified.code, 0, "verify after the repair");
			assert.match(verified.stdout, /: 0 corrupt, 0 missing$/m);

			const again = await runLogged(t, ["sync", "--data", data, "--upstream", upstream.url, REPO]);
			assert.equal(again.code, 0);
			assert.match(again.stdout, new RegExp(`^${REPO}@main: up to date at ${commitId}$`, "m"));
		});
	}
});
