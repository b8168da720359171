// Lineage rules in a `hubmirror serve --config` file against fake_hub.mjs (its models:
// lineage_fixtures.mjs): [[mirror]] rules with ancestors, descendants and lineage_metadata_only
// mirror what the same CLI options do; bad options and bad rules exit 2 without asking the
// upstream anything.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test lineage_config.test.mjs
//
// Everything runs on 127.0.0.1 with port 0, in a temporary directory removed afterwards.

import assert from "node:assert/strict";
import { stat, writeFile } from "node:fs/promises";
import { describe } from "node:test";

import { lineageScenarios, listedModels, reposFetched, RETRIES, STALL_TIMEOUT_S } from "./lineage_fixtures.mjs";
import { assertRepoServed } from "./scenario.mjs";

const { scenario, newDataDir, work } = lineageScenarios("hubmirror-lineage-config-");

/** Polls `fn` until it returns a truthy value; fails after `ms`. */
async function eventually(fn, ms, what) {
	const deadline = Date.now() + ms;
	let last;
	while (Date.now() < deadline) {
		last = await fn();
		if (last) return last;
		await new Promise((r) => setTimeout(r, 100));
	}
	assert.fail(`${what}: not reached in ${ms} ms`);
}

/** Resolves once the hub has seen no request for `quietMs`. */
async function hubQuiet(hub, quietMs = 400, maxMs = 10_000) {
	const deadline = Date.now() + maxMs;
	let count = -1;
	while (Date.now() < deadline) {
		if (hub.log.length === count && hub.log.every((r) => r.endMs !== undefined)) return;
		count = hub.log.length;
		await new Promise((r) => setTimeout(r, quietMs));
	}
	assert.fail(`the hub was still busy after ${maxMs} ms`);
}

describe("hubmirror lineage rules from the command line and from serve --config", () => {
	scenario("[[mirror]] rules with ancestors, descendants and lineage_metadata_only mirror what the CLI does", async (ctx) => {
		const hub = await ctx.startHub();
		const config = work.dir("config.toml");
		await writeFile(
			config,
			[
				"[upstream]",
				`url = "${hub.url}"`,
				"",
				"[schedule]",
				"interval_seconds = 3600",
				"",
				"[sync]",
				`retries = ${RETRIES}`,
				`stall_timeout_seconds = ${STALL_TIMEOUT_S}`,
				"",
				"[[mirror]]",
				'repo = "acme/finetune-gguf"',
				"ancestors = true",
				"",
				"[[mirror]]",
				'repo = "acme/finetune"',
				'descendants = ["quantized"]',
				"max_count = 2",
				"",
				"[[mirror]]",
				'repo = "acme/root"',
				'descendants = ["finetune", "quantized", "adapter"]',
				"min_downloads = 1000",
				"lineage_metadata_only = true",
				"",
			].join("\n"),
		);
		const expected = ["acme/finetune", "acme/finetune-awq", "acme/finetune-gguf", "acme/root"];

		const served = newDataDir();
		const mirror = await ctx.serve(served, { args: ["--config", config], keepStderr: 20_000 });
		const status = await eventually(
			async () => {
				const body = await (await fetch(`${mirror.url}/api/mirror/status`)).json();
				const done = body.repos.filter((r) => r.in_sync).map((r) => r.id.toLowerCase());
				return expected.every((id) => done.includes(id)) ? body : null;
			},
			15_000,
			`the scheduler mirrored ${expected.join(", ")}`,
		);
		await hubQuiet(hub);
		const after = await (await fetch(`${mirror.url}/api/mirror/status`)).json();
		assert.deepEqual(after.repos.map((r) => r.id).sort(), expected, "the scheduled sync mirrored these and no other");
		assert.ok(after.repos.every((r) => r.in_sync && r.last_error === null), JSON.stringify(status.repos));
		assert.ok(mirror.alive(), "serve is still running");
		assert.deepEqual(reposFetched(hub), expected, "no other repo's files were fetched");
		assert.deepEqual(await listedModels(mirror), expected);
		for (const id of expected) await assertRepoServed(mirror, hub, id);
		const servedLineage = await (await fetch(`${mirror.url}/api/lineage/models/acme/root?direction=both`)).json();

		// The CLI, the same three rules, in another data dir.
		const cliData = newDataDir();
		for (const args of [
			["--ancestors", "acme/finetune-gguf"],
			["--descendants", "quantized", "--max-count", "2", "acme/finetune"],
			["--descendants", "finetune,quantized,adapter", "--min-downloads", "1000", "--lineage-metadata-only", "acme/root"],
		]) {
			const run = await ctx.sync(cliData, args);
			assert.equal(run.code, 0);
		}
		const cliMirror = await ctx.serve(cliData);
		assert.deepEqual(await listedModels(cliMirror), expected);
		const cliLineage = await (await fetch(`${cliMirror.url}/api/lineage/models/acme/root?direction=both`)).json();
		assert.deepEqual(servedLineage, cliLineage, "the scheduled sync and the CLI record the same lineage");
		assert.deepEqual(
			servedLineage.nodes.filter((n) => !n.mirrored).map((n) => [n.id, n.downloads]),
			[["acme/root-gguf", 1500]],
			"the metadata-only rule recorded acme/root-gguf, the one relative above 1000 not mirrored by another rule",
		);
	});

	// g. Bad input -------------------------------------------------------------------------------------

	for (const { label, args, message } of [
		{
			label: "an unknown relation in --descendants",
			args: ["--descendants", "finetune,bogus", "acme/root"],
			message: "hubmirror: descendant relation must be finetune, adapter, quantized or merge, got 'bogus'",
		},
		{
			label: "--max-count without --descendants",
			args: ["--ancestors", "--max-count", "2", "acme/root"],
			message: "hubmirror: a minimum of downloads or a maximum count needs descendants to apply to",
		},
		{
			label: "--min-downloads without --descendants",
			args: ["--min-downloads", "10", "acme/root"],
			message: "hubmirror: a minimum of downloads or a maximum count needs descendants to apply to",
		},
		{
			label: "--lineage-metadata-only alone",
			args: ["--lineage-metadata-only", "acme/root"],
			message: "hubmirror: lineage metadata only needs ancestors or descendants to record",
		},
		{
			label: "--ancestors with --type dataset",
			args: ["--ancestors", "--type", "dataset", "acme/data"],
			message: "hubmirror: --ancestors and --descendants apply to models only",
		},
		{
			label: "--descendants with --type dataset",
			args: ["--type", "dataset", "--descendants", "quantized", "acme/data"],
			message: "hubmirror: --ancestors and --descendants apply to models only",
		},
	]) {
		scenario(`sync with ${label}: exit 2, one clear line, nothing asked upstream`, async (ctx) => {
			const hub = await ctx.startHub();
			const data = newDataDir();
			const run = await ctx.sync(data, args);
			assert.equal(run.code, 2, "usage errors exit 2");
			assert.equal(run.stderr.trim(), message);
			assert.equal(run.stdout, "");
			assert.deepEqual(hub.log, [], "the upstream was not contacted");
			await assert.rejects(stat(data), { code: "ENOENT" }, "no data dir was created");
		});
	}

	for (const { label, rule, message } of [
		{ label: "an unknown relation", rule: ['descendants = ["quantized", "bogus"]'], message: /mirror\[0\]: descendant relation must be finetune, adapter, quantized or merge, got 'bogus'/ },
		{ label: "max_count without descendants", rule: ["ancestors = true", "max_count = 3"], message: /mirror\[0\]: a minimum of downloads or a maximum count needs descendants/ },
		{ label: "ancestors on a dataset", rule: ['type = "dataset"', "ancestors = true"], message: /mirror\[0\]: ancestors and descendants apply to models only/ },
		{ label: "descendants given as a string", rule: ['descendants = "quantized"'], message: /mirror\[0\]\.descendants: must be an array of strings/ },
	]) {
		scenario(`serve --config with ${label} in a [[mirror]] rule: exit 2 naming the file and the rule`, async (ctx) => {
			const hub = await ctx.startHub();
			const config = work.dir("config.toml");
			await writeFile(config, ["[upstream]", `url = "${hub.url}"`, "", "[[mirror]]", 'repo = "acme/root"', ...rule, ""].join("\n"));
			const data = newDataDir();
			const run = await ctx.run(["serve", "--data", data, "--listen", "127.0.0.1:0", "--config", config]);
			assert.equal(run.code, 2, "a bad config exits 2");
			assert.ok(run.stderr.includes(config), `stderr names ${config}`);
			assert.match(run.stderr, message);
			assert.doesNotMatch(run.stdout, /listening/, "the server did not start");
			assert.deepEqual(hub.log, [], "the upstream was not contacted");
		});
	}
});
