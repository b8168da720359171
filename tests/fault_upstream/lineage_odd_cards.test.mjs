// Lineage sync through odd cards, against fake_hub.mjs (its models: lineage_fixtures.mjs):
// self-references, cycles through case variants, invalid ids and models a listing gives as their
// own children; each walk ends and shows each model once.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test lineage_odd_cards.test.mjs
//
// Everything runs on 127.0.0.1 with port 0, in a temporary directory removed afterwards.

import assert from "node:assert/strict";
import { describe } from "node:test";

import { assertEachModelOnce, assertTextShowsEachModelOnce, lineage, lineageScenarios, listedModels, listings, reposFetched, spec, syncedIds } from "./lineage_fixtures.mjs";
import { assertRepoServed } from "./scenario.mjs";

const { scenario, newDataDir } = lineageScenarios("hubmirror-lineage-odd-");

describe("hubmirror sync along lineage through cycles, self-references and case variants", () => {
	scenario("--ancestors through a self-reference, a case-variant cycle and invalid ids ends, each model once", async (ctx) => {
		const hub = await ctx.startHub();
		const data = newDataDir();

		const run = await ctx.sync(data, ["--ancestors", "odd/selfish"]);
		assert.equal(run.code, 0, "odd cards are logged and skipped, not failures");
		const synced = syncedIds(run).map((id) => id.toLowerCase());
		assert.deepEqual(synced, ["odd/selfish", "odd/cycle-b", "odd/cycle-a"], "each model of the cycle once");
		assert.match(run.stderr, /odd\/selfish: skipping base_model 'odd\/selfish': a model is not its own base/);
		assert.match(run.stderr, /skipping base_model: invalid repo id 'not a valid id'/);
		assert.match(run.stderr, /skipping base_model: invalid repo id '\.\.\/\.\.\/etc\/passwd'/);
		// Each card read at most twice (walk, then mirror), the invalid ids never asked for.
		for (const r of hub.requests({ route: "revision" })) {
			assert.ok(["odd/selfish", "odd/cycle-a", "odd/cycle-b"].includes(r.repo.toLowerCase()), `asked for ${r.url}`);
		}
		const perRepo = new Map();
		for (const r of hub.requests({ route: "revision" })) perRepo.set(r.repo.toLowerCase(), (perRepo.get(r.repo.toLowerCase()) ?? 0) + 1);
		for (const [id, count] of perRepo) assert.ok(count <= 2, `${id}'s card was read ${count} times`);
		assert.ok(hub.log.length < 60, `${hub.log.length} requests for three small repos`);

		const graph = (await lineage(ctx, data, ["odd/selfish", "--format", "json"])).json;
		assertEachModelOnce(graph);
		assert.equal(graph.nodes.length, 3);
		assert.ok(graph.edges.every((e) => e.child.toLowerCase() !== e.parent.toLowerCase()), "no self-edge from a card");
		assert.ok(!graph.nodes.some((n) => /\s|\.\./.test(n.id)), "no invalid id became a node");
		const text = await lineage(ctx, data, ["odd/selfish"]);
		assert.equal(text.code, 0);
		assertTextShowsEachModelOnce(text.stdout);
		const mirror = await ctx.serve(data);
		assert.deepEqual((await listedModels(mirror)).map((id) => id.toLowerCase()), ["odd/cycle-a", "odd/cycle-b", "odd/selfish"]);
		for (const id of ["odd/cycle-a", "odd/cycle-b", "odd/selfish"]) await assertRepoServed(mirror, hub, id);
	});

	scenario("--descendants through a cycle and a model listed as its own child ends, each model once", async (ctx) => {
		const hub = await ctx.startHub();
		const data = newDataDir();

		const run = await ctx.sync(data, ["--descendants", "finetune", "odd/cycle-a"]);
		assert.equal(run.code, 0);
		assert.deepEqual(syncedIds(run), ["odd/cycle-a", "odd/cycle-b", "odd/selfish"]);
		// The hub lists odd/selfish among its own children (its card names itself): listed once, not followed.
		const firstPages = listings(hub).filter((l) => l.cursor === null).map((l) => l.filter);
		assert.deepEqual(firstPages, [
			"base_model:finetune:odd/cycle-a",
			"base_model:finetune:odd/cycle-b",
			"base_model:finetune:odd/selfish",
		]);
		assert.deepEqual(reposFetched(hub), ["odd/cycle-a", "odd/cycle-b", "odd/selfish"]);

		const graph = (await lineage(ctx, data, ["odd/cycle-a", "--format", "json"])).json;
		assertEachModelOnce(graph);
		assert.deepEqual(graph.nodes.map((n) => n.id), ["odd/cycle-a", "odd/cycle-b", "odd/selfish"]);
		assert.deepEqual(graph.edges.map((e) => [e.child, e.parent]), [
			["odd/cycle-a", "odd/cycle-b"],
			["odd/cycle-b", "odd/cycle-a"],
			["odd/selfish", "odd/cycle-b"],
		]);
		const text = await lineage(ctx, data, ["odd/cycle-a"]);
		assertTextShowsEachModelOnce(text.stdout);
		assert.equal(
			text.stdout,
			[
				"ancestors",
				"  odd/cycle-a",
				"    finetune of: odd/cycle-b",
				"      finetune of: odd/cycle-a (see above)",
				"descendants",
				"  odd/cycle-a",
				"    finetune: odd/cycle-b",
				"      finetune: odd/cycle-a (see above)",
				"      finetune: odd/selfish",
				"",
			].join("\n"),
		);
	});

	scenario("--lineage-metadata-only through a cycle and a self-listed model ends, each model once", async (ctx) => {
		await ctx.startHub();
		const data = newDataDir();
		const run = await ctx.sync(data, ["--lineage-metadata-only", "--descendants", "finetune", "odd/cycle-a"]);
		assert.equal(run.code, 0);
		assert.match(run.stdout, /^lineage: recorded 2 relatives without their files$/m);
		const graph = (await lineage(ctx, data, ["odd/cycle-a", "--format", "json"])).json;
		assertEachModelOnce(graph);
		assert.deepEqual(
			graph.nodes.map((n) => [n.id, n.mirrored, n.downloads]),
			[
				["odd/cycle-a", true, spec("odd/cycle-a").downloads],
				["odd/cycle-b", false, 40],
				["odd/selfish", false, 20],
			],
		);
		const text = await lineage(ctx, data, ["odd/cycle-a"]);
		assertTextShowsEachModelOnce(text.stdout);
	});

	scenario(
		"a model the listing gives as its own child records no self-edge (as a card's self-reference is skipped)",
		async (ctx) => {
			await ctx.startHub();
			const data = newDataDir();
			const run = await ctx.sync(data, ["--lineage-metadata-only", "--descendants", "finetune", "odd/cycle-a"]);
			assert.equal(run.code, 0);
			const graph = (await lineage(ctx, data, ["odd/cycle-a", "--format", "json"])).json;
			const selfEdges = graph.edges.filter((e) => e.child.toLowerCase() === e.parent.toLowerCase());
			assert.deepEqual(selfEdges, [], "self-edges recorded");
		},
	);

	scenario(
		"a base model named in another case is mirrored under the upstream's id",
		async (ctx) => {
			await ctx.startHub();
			const data = newDataDir();
			const run = await ctx.sync(data, ["--ancestors", "acme/finetune-awq"]);
			assert.equal(run.code, 0);
			assert.deepEqual(syncedIds(run), ["acme/finetune-awq", "acme/finetune", "acme/root"], "the ids the upstream gives");
			const mirror = await ctx.serve(data);
			const info = await (await fetch(`${mirror.url}/api/models/acme/finetune`)).json();
			assert.equal(info.id, "acme/finetune", "the mirrored repo's id");
		},
	);

	scenario("a case variant in a card still finds the base: mirrored once, served in any case", async (ctx) => {
		const hub = await ctx.startHub();
		const data = newDataDir();
		const run = await ctx.sync(data, ["--ancestors", "acme/finetune-awq"]);
		assert.equal(run.code, 0);
		assert.deepEqual(syncedIds(run).map((id) => id.toLowerCase()), ["acme/finetune-awq", "acme/finetune", "acme/root"]);
		// Then the same base through its own spelling: up to date, not mirrored a second time.
		const again = await ctx.sync(data, ["--ancestors", "acme/finetune-gguf"]);
		assert.equal(again.code, 0);
		assert.match(again.stdout, /^acme\/finetune@main: up to date/im);
		const graph = (await lineage(ctx, data, ["acme/root", "--down", "--format", "json"])).json;
		assertEachModelOnce(graph);
		assert.equal(graph.nodes.length, 4);
		const mirror = await ctx.serve(data);
		assert.equal((await listedModels(mirror)).length, 4, "four repos, the case variant not twice");
		for (const spelling of ["acme/finetune", "Acme/FineTune", "ACME/FINETUNE"]) {
			const res = await fetch(`${mirror.url}/api/models/${spelling}`);
			assert.equal(res.status, 200, `${spelling}: ${res.status}`);
			assert.equal((await res.json()).sha, hub.repo("acme/finetune").sha);
		}
	});
});
