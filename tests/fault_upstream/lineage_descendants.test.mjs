// `hubmirror sync --descendants` against fake_hub.mjs (its models: lineage_fixtures.mjs): children
// found through the Hub's paginated `base_model:RELATION:ID` listings, most downloaded first, with
// --max-count and --min-downloads, transitively; listing pages answered 429 or failing.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test lineage_descendants.test.mjs
//
// Everything runs on 127.0.0.1 with port 0, in a temporary directory removed afterwards.

import assert from "node:assert/strict";
import { describe } from "node:test";

import { assertMirrorHoldsExactly, lineage, lineageScenarios, listings, reposFetched, syncedIds } from "./lineage_fixtures.mjs";

const { scenario, newDataDir } = lineageScenarios("hubmirror-lineage-down-");

describe("hubmirror sync --descendants against a Hub-like upstream", () => {
	scenario("--descendants quantized --max-count 2 takes the two most downloaded, through listing pages", async (ctx) => {
		const hub = await ctx.startHub();
		const data = newDataDir();

		const run = await ctx.sync(data, ["--descendants", "quantized", "--max-count", "2", "acme/finetune"]);
		assert.equal(run.code, 0, "the sync must succeed");
		assert.deepEqual(syncedIds(run), ["acme/finetune", "acme/finetune-gguf", "acme/finetune-awq"], "most downloaded first");

		// The listing: the Hub's query, 4 children in pages of 2, the second page from the Link cursor.
		const lists = hub.requests({ route: "list" });
		assert.ok(lists.length >= 2, "the listing was read");
		const first = new URL(lists[0].url, hub.url).searchParams;
		assert.equal(first.get("filter"), "base_model:quantized:acme/finetune");
		assert.equal(first.get("sort"), "downloads");
		assert.equal(first.get("direction"), "-1");
		assert.ok(lists[0].link, "the first page has a next link");
		const paged = lists.filter((r) => r.cursor !== null);
		assert.ok(paged.length >= 1, "pagination was followed: no request with a cursor");
		assert.ok(lists[0].link.includes(paged[0].url), "the second page is the URL the Link header gave");
		assert.deepEqual(
			lists.map((r) => r.filters.join(",")),
			lists.map(() => "base_model:quantized:acme/finetune"),
			"only quantized children were listed (--max-count reached after the first level)",
		);
		assert.ok(lists.every((r) => r.status === 200));

		assert.deepEqual(reposFetched(hub), ["acme/finetune", "acme/finetune-awq", "acme/finetune-gguf"]);
		await assertMirrorHoldsExactly(ctx, data, ["acme/finetune", "acme/finetune-awq", "acme/finetune-gguf"]);
	});

	scenario("--descendants quantized without --max-count: every page's children (here 4 over 2 pages)", async (ctx) => {
		const hub = await ctx.startHub();
		const data = newDataDir();
		const run = await ctx.sync(data, ["acme/finetune", "--descendants=quantized"]);
		assert.equal(run.code, 0);
		assert.deepEqual(syncedIds(run), [
			"acme/finetune",
			"acme/finetune-gguf",
			"acme/finetune-awq",
			"acme/finetune-gptq",
			"acme/finetune-int8",
		]);
		assert.ok(
			listings(hub).some((l) => l.filter === "base_model:quantized:acme/finetune" && l.cursor !== null),
			"the second page of the children was read",
		);
		await assertMirrorHoldsExactly(ctx, data, [
			"acme/finetune",
			"acme/finetune-awq",
			"acme/finetune-gguf",
			"acme/finetune-gptq",
			"acme/finetune-int8",
		]);
	});

	scenario("a listing page answered 429 is retried; a listing that keeps failing fails the walk, not the rule's repo", async (ctx) => {
		const hub = await ctx.startHub();
		hub.inject({ route: "list", page: 1, kind: "429", rateLimitReset: 1 });
		const data = newDataDir();
		const run = await ctx.sync(data, ["--descendants", "quantized", "acme/finetune"]);
		assert.equal(run.code, 0, "a rate-limited listing page is retried");
		const children = hub.requests({ route: "list" }).filter((r) => r.filters.join() === "base_model:quantized:acme/finetune");
		const pages = children.map((r) => [r.cursor === null ? "first" : "next", r.status]);
		assert.deepEqual(pages, [["first", 200], ["next", 429], ["next", 200]], "the second page, again after the 429");
		const [limited, retried] = children.slice(1);
		assert.equal(limited.url, retried.url, "the same page asked again");
		assert.ok(retried.t - limited.t >= 950, `RateLimit t=1 honoured: retried after ${retried.t - limited.t} ms`);
		assert.equal(syncedIds(run).length, 5, "the children of both pages were mirrored");

		hub.inject({ route: "list", kind: "500", times: Infinity });
		const failing = newDataDir();
		const failed = await ctx.sync(failing, ["--descendants", "quantized", "acme/finetune"]);
		assert.equal(failed.code, 1, "a lineage walk that fails is a problem");
		assert.match(failed.stderr, /^hubmirror: lineage of acme\/finetune: listing of base_model:quantized:acme\/finetune: .*500/m);
		assert.deepEqual(syncedIds(failed), ["acme/finetune"], "the rule's own repo is still mirrored");
		await assertMirrorHoldsExactly(ctx, failing, ["acme/finetune"]);
	});

	// c. Descendants, --min-downloads, transitively ---------------------------------------------------

	scenario("--descendants finetune,quantized,adapter --min-downloads 120: at or above the threshold, transitively", async (ctx) => {
		const hub = await ctx.startHub();
		const data = newDataDir();

		const run = await ctx.sync(data, ["--descendants", "finetune,quantized,adapter", "--min-downloads", "120", "acme/root"]);
		assert.equal(run.code, 0, "the sync must succeed");
		// Level by level, each level most downloaded first; acme/finetune-gptq has exactly 120.
		assert.deepEqual(syncedIds(run), [
			"acme/root",
			"acme/finetune",
			"acme/root-gguf",
			"acme/finetune-gguf",
			"acme/finetune-lora",
			"acme/finetune-awq",
			"acme/finetune-gptq",
		]);
		// acme/root-tiny-ft (30) is left out, and so is its child with 8000 downloads: the walk goes
		// down through the models it takes. acme/merge is a merge, not asked for.
		const listedParents = new Set(listings(hub).map((l) => l.filter.replace(/^base_model:[a-z]+:/, "")));
		assert.deepEqual(
			[...listedParents].sort(),
			["acme/finetune", "acme/finetune-awq", "acme/finetune-gguf", "acme/finetune-gptq", "acme/finetune-lora", "acme/root", "acme/root-gguf"],
			"children were listed for the models taken, and only those",
		);
		for (const l of listings(hub)) {
			assert.match(l.filter, /^base_model:(finetune|quantized|adapter):/, `unexpected listing ${l.filter}`);
		}
		assert.ok(listings(hub).some((l) => l.cursor !== null), "pagination was followed");
		const expected = [
			"acme/finetune",
			"acme/finetune-awq",
			"acme/finetune-gguf",
			"acme/finetune-gptq",
			"acme/finetune-lora",
			"acme/root",
			"acme/root-gguf",
		];
		assert.deepEqual(reposFetched(hub), expected);
		await assertMirrorHoldsExactly(ctx, data, expected);

		// The mirrored children's own cards give their edges, found going down from the root.
		const down = await lineage(ctx, data, ["acme/root", "--down", "--format", "json"]);
		assert.deepEqual(
			down.json.edges.map((e) => [e.child, e.parent, e.relation, e.source]),
			[
				["acme/finetune", "acme/root", "finetune", "card"],
				["acme/finetune-awq", "acme/finetune", "quantized", "card"],
				["acme/finetune-gguf", "acme/finetune", "quantized", "card"],
				["acme/finetune-gptq", "acme/finetune", "quantized", "card"],
				["acme/finetune-lora", "acme/finetune", "adapter", "card"],
				["acme/root-gguf", "acme/root", "quantized", "card"],
			],
		);
		assert.ok(down.json.nodes.every((n) => n.mirrored), "every node of the family here is mirrored");
	});
});
