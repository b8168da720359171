// Air-gapped transfer, usage errors: `hubmirror export` and `hubmirror import-bundle` with bad
// arguments exit 2 and write nothing.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test usage.test.mjs
//
// Plain Node 20 (no npm packages); everything on 127.0.0.1 with port 0, in a temporary directory
// removed afterwards.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";

import { runLogged } from "../support/harness.mjs";
import { bundleA, importArgs, outer, prior, ROOT, useBundleFixture, visibleState } from "./bundle_fixture.mjs";

const work = useBundleFixture("hubmirror-bundle-usage-");

describe("f. usage errors exit 2", () => {
	test("export: neither repos nor --all, or both", async (t) => {
		for (const args of [[], ["--all", ROOT]]) {
			const out = work.dir("usage-out");
			const run = await runLogged(t, ["export", "--data", outer, "--out", out, ...args]);
			assert.equal(run.code, 2, `export ${args.join(" ")}`);
			assert.match(run.stderr, /name the repos to export, or --all \(not both\)/);
			assert.ok(!existsSync(out), "nothing written");
		}
	});

	test("export: a bad --volume-size", async (t) => {
		for (const size of ["1Q", "0", "-4M", "M", "0.1"]) {
			const out = work.dir("usage-out");
			const run = await runLogged(t, ["export", "--data", outer, "--out", out, "--all", `--volume-size=${size}`]);
			assert.equal(run.code, 2, `--volume-size ${size}`);
			assert.match(run.stderr, /--volume-size: must be a size such as 700M, 4G or 1048576/);
			assert.ok(!existsSync(out), "nothing written");
		}
	});

	test("export: --have that is missing or not an inventory", async (t) => {
		const notJson = join(work.path, "not-an-inventory.json");
		await writeFile(notJson, "this is not JSON\n");
		for (const have of [join(work.path, "no-such-inventory.json"), notJson]) {
			const run = await runLogged(t, ["export", "--data", outer, "--out", work.dir("usage-out"), "--all", "--have", have]);
			assert.equal(run.code, 2, `--have ${have}`);
		}
	});

	test("import-bundle: neither --trusted-key nor --allow-untrusted", async (t) => {
		const inner = work.dir("usage-inner");
		const run = await runLogged(t, ["import-bundle", "--data", inner, bundleA]);
		assert.equal(run.code, 2);
		assert.match(run.stderr, /give the signer's public key with --trusted-key/);
	});

	test("import-bundle: a --trusted-key that is missing or not a PEM key", async (t) => {
		const notPem = join(work.path, "not-a-key.pem");
		await writeFile(notPem, "not a key\n");
		for (const key of [join(work.path, "no-such-key.pem"), notPem]) {
			const run = await runLogged(t, importArgs(work.dir("usage-inner"), bundleA, { keys: [key] }));
			assert.equal(run.code, 2, `--trusted-key ${key}`);
		}
	});

	test("import-bundle: a directory without bundle.json", async (t) => {
		const empty = work.dir("not-a-bundle");
		await mkdir(empty, { recursive: true });
		const volumesOnly = await work.copy(bundleA, "volumes-only");
		await unlink(join(volumesOnly, "bundle.json"));
		for (const dir of [empty, volumesOnly, join(work.path, "no-such-dir")]) {
			const inner = await work.copy(prior, "usage-inner");
			const before = await visibleState(t, inner);
			const run = await runLogged(t, importArgs(inner, dir));
			assert.equal(run.code, 2, dir);
			assert.match(run.stderr, /is not a finished bundle \(no bundle\.json\)/);
			assert.deepEqual(await visibleState(t, inner), before);
		}
	});
});
