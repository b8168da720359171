// `hubmirror sync --ancestors` against fake_hub.mjs (its models: lineage_fixtures.mjs): the chain
// from a model to its root, read from the cards (or from the baseModels an upstream states), with
// files; a merge whose second base the upstream lacks (a node, not mirrored, with or without a
// token); and a re-sync that downloads nothing.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test lineage_ancestors.test.mjs
//
// Everything runs on 127.0.0.1 with port 0, in a temporary directory removed afterwards.

import assert from "node:assert/strict";
import { describe } from "node:test";

import { assertEachModelOnce, assertMirrorHoldsExactly, lineage, lineageScenarios, listings, MISSING_BASE, reposFetched, syncedIds } from "./lineage_fixtures.mjs";

const { scenario, newDataDir } = lineageScenarios("hubmirror-lineage-up-");

describe("hubmirror sync --ancestors against a Hub-like upstream", () => {
	scenario("--ancestors from a quantized model mirrors exactly its chain to the root, with files", async (ctx) => {
		const hub = await ctx.startHub();
		const data = newDataDir();

		const run = await ctx.sync(data, ["acme/finetune-gguf", "--ancestors"]);
		assert.equal(run.code, 0, "the sync must succeed");
		assert.deepEqual(syncedIds(run), ["acme/finetune-gguf", "acme/finetune", "acme/root"], "the model, then its ancestors");
		assert.equal(run.stderr.match(/^hubmirror:/m), null, "no failure reported");

		// The upstream was asked for the three cards, no listing, and the files of those three only.
		const cards = new Set(hub.requests({ route: "revision" }).map((r) => r.repo));
		assert.deepEqual([...cards].sort(), ["acme/finetune", "acme/finetune-gguf", "acme/root"]);
		assert.deepEqual(listings(hub), [], "ancestors come from the cards, not from listings");
		assert.deepEqual(reposFetched(hub), ["acme/finetune", "acme/finetune-gguf", "acme/root"]);

		const up = await lineage(ctx, data, ["acme/finetune-gguf", "--up"]);
		assert.equal(up.code, 0);
		assert.equal(
			up.stdout,
			[
				"ancestors",
				"  acme/finetune-gguf",
				"    quantized of: acme/finetune",
				"      finetune of: acme/root",
				"foundation: acme/root",
				"",
			].join("\n"),
		);
		const json = await lineage(ctx, data, ["acme/finetune-gguf", "--up", "--format", "json"]);
		assert.deepEqual(json.json.roots, ["acme/root"]);
		assert.deepEqual(
			json.json.edges,
			[
				{ child: "acme/finetune", parent: "acme/root", relation: "finetune", source: "card", inferred: false },
				{ child: "acme/finetune-gguf", parent: "acme/finetune", relation: "quantized", source: "card", inferred: false },
			],
			"the relations are the upstream's base_model:RELATION tags (the gguf one inferred by the hub, not declared)",
		);
		assert.deepEqual(json.json.nodes.map((n) => [n.id, n.mirrored]), [
			["acme/finetune-gguf", true],
			["acme/finetune", true],
			["acme/root", true],
		]);
		assert.deepEqual(
			json.json.nodes.map((n) => [n.pipeline_tag, n.library_name]),
			[[null, "gguf"], ["text-generation", "transformers"], ["text-generation", "transformers"]],
		);

		await assertMirrorHoldsExactly(ctx, data, ["acme/finetune", "acme/finetune-gguf", "acme/root"]);
	});

	scenario("--ancestors from an upstream that states baseModels records the edges it states", async (ctx) => {
		await ctx.startHub({ baseModels: true });
		const data = newDataDir();

		const run = await ctx.sync(data, ["acme/finetune-gguf", "--ancestors"]);
		assert.equal(run.code, 0, "the sync must succeed");
		assert.deepEqual(syncedIds(run), ["acme/finetune-gguf", "acme/finetune", "acme/root"], "the model, then its ancestors");
		const json = await lineage(ctx, data, ["acme/finetune-gguf", "--up", "--format", "json"]);
		assert.deepEqual(
			json.json.edges,
			[
				{ child: "acme/finetune", parent: "acme/root", relation: "finetune", source: "baseModels", inferred: false },
				{ child: "acme/finetune-gguf", parent: "acme/finetune", relation: "quantized", source: "baseModels", inferred: false },
			],
			"the edges are the upstream's baseModels",
		);
		await assertMirrorHoldsExactly(ctx, data, ["acme/finetune", "acme/finetune-gguf", "acme/root"]);
	});

	scenario("--ancestors through a merge whose second base is not upstream: a node, not mirrored, exit 0", async (ctx) => {
		const hub = await ctx.startHub();
		const data = newDataDir();

		const run = await ctx.sync(data, ["--ancestors", "acme/merge"]);
		assert.equal(run.code, 0, "a base model the upstream lacks does not fail the sync");
		assert.deepEqual(syncedIds(run), ["acme/merge", "acme/finetune", "acme/root"]);
		const warnings = run.stderr.split("\n").filter((l) => l.includes(MISSING_BASE));
		assert.ok(warnings.some((l) => /\bwarn/.test(l) && /not on the upstream/.test(l)), `a warning names ${MISSING_BASE}`);
		assert.equal(run.stderr.match(/^hubmirror:/m), null, "no failure reported");
		// One request for the missing card (anonymous: the Hub's bare 401), and nothing else of it.
		assert.deepEqual(hub.requests({ repo: MISSING_BASE }).map((r) => [r.route, r.status]), [["revision", 401]]);
		assert.deepEqual(reposFetched(hub), ["acme/finetune", "acme/merge", "acme/root"]);

		const up = await lineage(ctx, data, ["acme/merge", "--up"]);
		assert.equal(
			up.stdout,
			[
				"ancestors",
				"  acme/merge",
				"    merge of: acme/finetune",
				"      finetune of: acme/root",
				`    merge of: ${MISSING_BASE} (not mirrored)`,
				`foundation: acme/root ${MISSING_BASE}`,
				"",
			].join("\n"),
		);
		const json = await lineage(ctx, data, ["acme/merge", "--up", "--format", "json"]);
		assert.deepEqual(
			json.json.nodes.find((n) => n.id === MISSING_BASE),
			{ id: MISSING_BASE, mirrored: false },
			"a model the upstream does not have is a bare node: no details",
		);
		assert.deepEqual(json.json.roots, ["acme/root", MISSING_BASE]);
		assertEachModelOnce(json.json);

		const mirror = await assertMirrorHoldsExactly(ctx, data, ["acme/finetune", "acme/merge", "acme/root"]);
		const missing = await fetch(`${mirror.url}/api/models/${MISSING_BASE}`);
		assert.equal(missing.status, 404);

		// With a token the Hub answers 404 RepoNotFound instead: the same outcome.
		const withToken = newDataDir();
		const before404 = hub.log.length;
		const tokenRun = await ctx.sync(withToken, ["--token-env", "LINEAGE_HUB_TOKEN", "--ancestors", "acme/merge"], {
			env: { LINEAGE_HUB_TOKEN: "hf_lineage_test_token" },
		});
		assert.equal(tokenRun.code, 0);
		assert.deepEqual(syncedIds(tokenRun), ["acme/merge", "acme/finetune", "acme/root"]);
		assert.deepEqual(
			hub.log.slice(before404).filter((r) => r.repo === MISSING_BASE).map((r) => [r.route, r.status, r.errorCode]),
			[["revision", 404, "RepoNotFound"]],
		);

		// Again, unchanged upstream: nothing downloaded, still exit 0.
		const before = hub.log.length;
		const again = await ctx.sync(data, ["--ancestors", "acme/merge"]);
		assert.equal(again.code, 0);
		assert.deepEqual([...again.stdout.matchAll(/^\S+: up to date/gm)].length, 3);
		assert.deepEqual(hub.log.slice(before).filter((r) => ["tree", "resolve", "cdn"].includes(r.route)), []);
	});
});
