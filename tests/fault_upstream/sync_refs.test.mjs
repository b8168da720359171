// `hubmirror sync` of refs of every kind against fake_hub.mjs: revision patterns ('*', 'tags/*',
// 'refs/pr/*', 'release-*', 'refs/convert/*') mirror the refs they match and no other; every
// revision form resolves on the mirror; a tag named alone is told from a branch by the upstream's
// /refs; refs deleted upstream are deleted on the next sync, their commits staying readable by id;
// a moved pull request is followed; the repo flags are refreshed with one request when the commit
// is unchanged, and enforced; `revisions` in a `serve --config` file; invalid revisions exit 2
// untried.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test sync_refs.test.mjs
//
// Everything runs on 127.0.0.1 with port 0, in a temporary directory removed afterwards.

import assert from "node:assert/strict";
import { stat, writeFile } from "node:fs/promises";
import { describe } from "node:test";

import { assertGatedAnonymously, bearer, BIN, createMirrorToken, encodePath, pseudoRandomBytes, sha256Hex } from "../support/harness.mjs";
import { assertSameRefs, eventually, fullRefNames } from "./refs_fixtures.mjs";
import { APPROVED_TOKEN, RETRIES, STALL_TIMEOUT_S, syncScenarios, TOKEN_ENV } from "./sync_fixtures.mjs";

const { scenario, newDataDir, work } = syncScenarios("hubmirror-sync-refs-");

const R = "acme/every-ref";
const text = (path, content) => ({ path, content: Buffer.from(content) });
const WEIGHTS = "model.safetensors";

/** A revision's files: config.json and README.md say which it is, the weights are shared unless `weights` differs. */
function filesOf(label, weights = "main") {
	return [
		text("config.json", JSON.stringify({ model_type: "llama", revision: label }) + "\n"),
		text("README.md", `---\nlicense: mit\n---\n\n# ${R} at ${label}\n`),
		{ path: WEIGHTS, content: pseudoRandomBytes(`${R}/${weights}`, 48 * 1024 + weights.length), lfs: true },
	];
}

/** The repo every scenario mirrors: refs of the four kinds, two of them sharing another's commit. */
function refsRepo(extra = {}) {
	return {
		id: R,
		files: filesOf("main"),
		refs: {
			branches: { dev: { files: filesOf("dev", "dev") }, "release-1": { files: filesOf("release-1") }, "release-2": { files: filesOf("release-2") } },
			tags: { "v1.0": { files: filesOf("v1.0", "v1.0") }, "v2.0": "main" },
			pullRequests: { 7: "v1.0", 16: { files: filesOf("pr-16") } },
			converts: { parquet: { files: [text("default/train/0000.parquet", "PAR1 fake parquet\n")] } },
		},
		...extra,
	};
}

/** Every full ref name of the repo upstream, and how a revision names each. */
const ALL_REFS = {
	"refs/heads/main": "main",
	"refs/heads/dev": "dev",
	"refs/heads/release-1": "release-1",
	"refs/heads/release-2": "release-2",
	"refs/tags/v1.0": "v1.0",
	"refs/tags/v2.0": "v2.0",
	"refs/pr/7": "refs/pr/7",
	"refs/pr/16": "refs/pr/16",
	"refs/convert/parquet": "refs/convert/parquet",
};

async function getJson(url, init) {
	const res = await fetch(url, init);
	const body = await res.text();
	assert.equal(res.status, 200, `${init?.method ?? "GET"} ${url}: ${res.status} ${body.slice(0, 300)}`);
	return JSON.parse(body);
}

const upstreamRefs = (hub) => getJson(`${hub.url}/api/models/${R}/refs?include_prs=1`);
const mirrorRefs = (mirror) => getJson(`${mirror.url}/api/models/${R}/refs?include_prs=1`);

/** The upstream's /refs, kept to the refs named in `wanted`. */
async function upstreamRefsOnly(hub, wanted) {
	const body = await upstreamRefs(hub);
	for (const list of Object.keys(body)) body[list] = body[list].filter((r) => wanted.includes(r.ref));
	return body;
}

/** The mirror serves `path` at `revision` (as written in the URL) with the bytes of `commit` upstream. */
async function assertFileAt(mirror, revision, commit, path, what) {
	const res = await fetch(`${mirror.url}/${R}/resolve/${revision}/${encodePath(path)}`);
	const bytes = Buffer.from(await res.arrayBuffer());
	assert.equal(res.status, 200, `${what}: /resolve/${revision}/${path} answered ${res.status}: ${bytes.toString().slice(0, 200)}`);
	assert.equal(sha256Hex(bytes), commit.files.get(path).sha256, `${what}: ${path} at ${revision}`);
	assert.equal(res.headers.get("x-repo-commit"), commit.sha, `${what}: X-Repo-Commit at ${revision}`);
}

/** A commit no ref names any more is still served by its id: its info and its files. */
async function assertReadableById(mirror, commit, what) {
	const info = await getJson(`${mirror.url}/api/models/${R}/revision/${commit.sha}`);
	assert.equal(info.sha, commit.sha, `${what}: repo info by commit id`);
	for (const path of commit.files.keys()) await assertFileAt(mirror, commit.sha, commit, path, `${what}, by id`);
}

/** What a sync asked the hub since request `since`: the revisions of the repo info, the commits of the trees and files. */
function fetchedSince(hub, since) {
	const revs = (routes) => [...new Set(hub.log.slice(since).filter((r) => routes.includes(r.route)).map((r) => r.rev))].sort();
	return { revisions: revs(["revision"]), commits: revs(["tree", "resolve"]) };
}

/** A `serve --config` file for the hub: `sections` (TOML lines), then one [[mirror]] rule of R with `rule` (TOML lines). */
async function writeConfig(hub, rule, sections = []) {
	const config = work.dir("config.toml");
	const sync = ["[sync]", `retries = ${RETRIES}`, `stall_timeout_seconds = ${STALL_TIMEOUT_S}`];
	const lines = ["[upstream]", `url = "${hub.url}"`, "", ...sync, "", ...sections, "", "[[mirror]]", `repo = "${R}"`, ...rule, ""];
	await writeFile(config, lines.join("\n"));
	return config;
}

/** The requests of a re-sync: exactly one, the repo info at `revision`. */
function assertOneRequest(hub, since, revision, what) {
	const requests = hub.log.slice(since);
	const seen = requests.map((r) => `${r.method} ${r.url} -> ${r.status}`).join("\n  ");
	assert.equal(requests.length, 1, `${what}: ${requests.length} requests to the upstream, not one:\n  ${seen}`);
	assert.equal(requests[0].route, "revision", `${what}: the one request is the repo info`);
	assert.equal(requests[0].rev, revision, `${what}: the one request names the revision`);
	assert.equal(requests[0].status, 200);
}

describe("hubmirror sync of branches, tags, pull requests and conversions", () => {
	scenario("revision patterns mirror the refs they match, and only those", async (ctx) => {
		const hub = await ctx.startHub({ repos: [refsRepo()] });
		const all = Object.keys(ALL_REFS);
		for (const [pattern, wanted] of [
			["*", all],
			["tags/*", ["refs/tags/v1.0", "refs/tags/v2.0"]],
			["refs/pr/*", ["refs/pr/16", "refs/pr/7"]],
			["release-*", ["refs/heads/release-1", "refs/heads/release-2"]],
			["refs/convert/*", ["refs/convert/parquet"]],
		]) {
			const data = newDataDir();
			const since = hub.log.length;
			const run = await ctx.sync(data, [`${R}@${pattern}`]);
			assert.equal(run.code, 0, `sync ${R}@${pattern} must succeed`);
			const revisions = wanted.map((ref) => ALL_REFS[ref]);
			const fetched = fetchedSince(hub, since);
			assert.deepEqual(fetched.revisions, [...revisions].sort(), `${pattern}: the matching refs were asked for, and no other`);
			const commits = [...new Set(revisions.map((rev) => hub.commit(R, rev).sha))].sort();
			assert.deepEqual(fetched.commits, commits, `${pattern}: the files of the matching refs' commits were fetched, and of no other`);
			const mirror = await ctx.serve(data);
			const refs = await mirrorRefs(mirror);
			assert.deepEqual(fullRefNames(refs), [...wanted].sort(), `${pattern}: the refs mirrored`);
			assertSameRefs(refs, await upstreamRefsOnly(hub, wanted), `${pattern}: /refs`);
			for (const revision of revisions) {
				const commit = hub.commit(R, revision);
				for (const path of commit.files.keys()) await assertFileAt(mirror, encodeURIComponent(revision), commit, path, pattern);
			}
			await mirror.stop();
		}
	});

	scenario("every revision form resolves on the mirror: resolve, raw, info, tree, paths-info, commits", async (ctx) => {
		const hub = await ctx.startHub({ repos: [refsRepo()] });
		const data = newDataDir();
		assert.equal((await ctx.sync(data, [`${R}@*`])).code, 0);
		const mirror = await ctx.serve(data);
		const forms = [
			["dev", "dev"],
			["dev", "refs%2Fheads%2Fdev"],
			["v1.0", "v1.0"],
			["v1.0", "refs%2Ftags%2Fv1.0"],
			["refs/pr/16", "refs%2Fpr%2F16"],
			["refs/pr/16", "refs/pr/16"],
			["refs/pr/7", "refs/pr/7"],
			["refs/convert/parquet", "refs%2Fconvert%2Fparquet"],
			["refs/convert/parquet", "refs/convert/parquet"],
			["main", "refs%2Fheads%2Fmain"],
			["main", "HEAD"],
			["refs/pr/16", hub.commit(R, "refs/pr/16").sha],
		];
		for (const [revision, inUrl] of forms) {
			const commit = hub.commit(R, revision);
			const what = `${revision} written ${inUrl}`;
			const paths = [...commit.files.keys()];
			const small = paths.find((p) => !commit.files.get(p).lfs);
			await assertFileAt(mirror, inUrl, commit, small, what);
			const raw = await fetch(`${mirror.url}/${R}/raw/${inUrl}/${encodePath(small)}`);
			assert.equal(raw.status, 200, `${what}: /raw answered ${raw.status}`);
			assert.equal(sha256Hex(Buffer.from(await raw.arrayBuffer())), commit.files.get(small).sha256, `${what}: /raw bytes`);
			const info = await getJson(`${mirror.url}/api/models/${R}/revision/${inUrl}`);
			assert.equal(info.sha, commit.sha, `${what}: repo info`);
			assert.deepEqual(info.siblings.map((s) => s.rfilename).sort(), [...paths].sort(), `${what}: siblings`);
			const tree = await getJson(`${mirror.url}/api/models/${R}/tree/${inUrl}?recursive=1`);
			const oids = paths.map((p) => [p, commit.files.get(p).oid]).sort();
			assert.deepEqual(tree.filter((e) => e.type === "file").map((e) => [e.path, e.oid]).sort(), oids, `${what}: tree`);
			const pathsInfo = await getJson(`${mirror.url}/api/models/${R}/paths-info/${inUrl}`, {
				method: "POST",
				headers: { "Content-Type": "application/json" },
				body: JSON.stringify({ paths }),
			});
			assert.deepEqual(pathsInfo.map((e) => [e.path, e.oid]).sort(), oids, `${what}: paths-info`);
			const commits = await getJson(`${mirror.url}/api/models/${R}/commits/${inUrl}`);
			assert.equal(commits[0]?.id, commit.sha, `${what}: commits`);
		}
		const missing = await fetch(`${mirror.url}/${R}/resolve/refs%2Fpr%2F99/config.json`);
		assert.equal(missing.status, 404, "a pull request the mirror does not have");
		assert.equal(missing.headers.get("x-error-code"), "RevisionNotFound");
	});

	scenario("a tag named alone is learnt from the upstream's /refs; full names and commit ids; a re-sync costs one request", async (ctx) => {
		const hub = await ctx.startHub({ repos: [refsRepo()] });
		const data = newDataDir();
		const first = await ctx.sync(data, [`${R}@v1.0`]);
		assert.equal(first.code, 0);
		assert.equal(hub.requests({ route: "refs" }).length, 1, "a name seen for the first time is looked up in /refs once");
		const pinned = hub.commit(R, "release-1");
		const second = await ctx.sync(data, [`${R}@refs/heads/dev`, `${R}@refs/tags/v2.0`, `${R}@refs/pr/16`, `${R}@${pinned.sha}`]);
		assert.equal(second.code, 0);

		for (const revision of ["v1.0", "refs/heads/dev", "refs/pr/16"]) {
			const since = hub.log.length;
			const again = await ctx.sync(data, [`${R}@${revision}`]);
			assert.equal(again.code, 0);
			assert.match(again.stdout, /up to date/);
			assertOneRequest(hub, since, revision, `re-sync of ${R}@${revision}`);
		}

		const mirror = await ctx.serve(data);
		const wanted = ["refs/tags/v1.0", "refs/heads/dev", "refs/tags/v2.0", "refs/pr/16"];
		assertSameRefs(await mirrorRefs(mirror), await upstreamRefsOnly(hub, wanted), "/refs: each ref of its own kind, none for the commit id");
		await assertReadableById(mirror, pinned, "a commit synced by id");
		await assertFileAt(mirror, "refs%2Ftags%2Fv2.0", hub.commit(R, "v2.0"), "config.json", "a tag synced by its full name");
		await assertFileAt(mirror, "dev", hub.commit(R, "dev"), WEIGHTS, "a branch synced by its full name");
	});

	scenario("refs deleted upstream are deleted on the next sync; their commits stay readable by id", async (ctx) => {
		const hub = await ctx.startHub({ repos: [refsRepo()] });
		const byPattern = newDataDir();
		const byName = newDataDir();
		assert.equal((await ctx.sync(byPattern, [`${R}@*`])).code, 0);
		assert.equal((await ctx.sync(byName, [`${R}@v1.0`, `${R}@refs/pr/16`, `${R}@dev`])).code, 0);
		const gone = Object.fromEntries(["v1.0", "refs/pr/16", "dev", "refs/convert/parquet"].map((rev) => [rev, hub.commit(R, rev)]));
		for (const ref of ["refs/tags/v1.0", "refs/pr/16", "refs/heads/dev", "refs/convert/parquet"]) hub.deleteRef(R, ref);

		// A pattern deletes what it matches, and leaves the refs it does not match alone.
		const tags = await ctx.sync(byPattern, [`${R}@tags/*`]);
		assert.equal(tags.code, 0, "refs deleted upstream are no failure of a pattern");
		assert.match(tags.stdout, /deleted refs\/tags\/v1\.0, which the upstream no longer has/);
		let mirror = await ctx.serve(byPattern);
		assert.deepEqual(
			fullRefNames(await mirrorRefs(mirror)),
			Object.keys(ALL_REFS).filter((ref) => ref !== "refs/tags/v1.0").sort(),
			"tags/* deleted the tag the upstream no longer has, and no ref it does not match",
		);
		await mirror.stop();
		const everything = await ctx.sync(byPattern, [`${R}@*`]);
		assert.equal(everything.code, 0);
		for (const ref of ["refs/heads/dev", "refs/pr/16", "refs/convert/parquet"]) {
			assert.ok(everything.stdout.includes(ref), `stdout names the deleted ${ref}`);
		}
		mirror = await ctx.serve(byPattern);
		assertSameRefs(await mirrorRefs(mirror), await upstreamRefs(hub), "after '*': /refs is the upstream's");
		for (const [revision, commit] of Object.entries(gone)) {
			const res = await fetch(`${mirror.url}/${R}/resolve/${encodeURIComponent(revision)}/config.json`);
			await res.arrayBuffer();
			assert.equal(res.status, 404, `${revision} no longer resolves by name`);
			assert.equal(res.headers.get("x-error-code"), "RevisionNotFound");
			if (revision !== "refs/convert/parquet") await assertReadableById(mirror, commit, `the commit of deleted ${revision}`);
		}
		await assertReadableById(mirror, gone["refs/convert/parquet"], "the commit of the deleted conversion");
		await mirror.stop();

		// A ref asked for by name that the upstream no longer has: deleted, and the sync fails.
		const tag = await ctx.sync(byName, [`${R}@v1.0`]);
		assert.equal(tag.code, 1, "a ref asked for by name and gone upstream fails the sync");
		assert.match(tag.stderr, /v1\.0/);
		mirror = await ctx.serve(byName);
		assert.deepEqual(fullRefNames(await mirrorRefs(mirror)), ["refs/heads/dev", "refs/pr/16"], "only the ref asked for was deleted");
		await mirror.stop();
		const others = await ctx.sync(byName, [`${R}@refs/pr/16`, `${R}@dev`]);
		assert.equal(others.code, 1);
		mirror = await ctx.serve(byName);
		assert.deepEqual(fullRefNames(await mirrorRefs(mirror)), [], "every ref the upstream deleted is gone");
		for (const revision of ["v1.0", "refs/pr/16", "dev"]) await assertReadableById(mirror, gone[revision], `the commit of deleted ${revision}`);
	});

	scenario("a pull request moved upstream is followed, by name and by pattern, fetching only what changed", async (ctx) => {
		const hub = await ctx.startHub({ repos: [refsRepo()] });
		const byName = newDataDir();
		const byPattern = newDataDir();
		assert.equal((await ctx.sync(byName, [`${R}@refs/pr/16`])).code, 0);
		assert.equal((await ctx.sync(byPattern, [`${R}@refs/pr/*`])).code, 0);
		const before = hub.commit(R, "refs/pr/16");
		const moved = filesOf("pr-16");
		moved[0] = text("config.json", JSON.stringify({ model_type: "llama", revision: "pr-16", rebased: true }) + "\n");
		const after = hub.commit(R, hub.setRef(R, "refs/pr/16", { files: moved }));
		assert.notEqual(after.sha, before.sha);

		for (const [data, revision] of [
			[byName, "refs/pr/16"],
			[byPattern, "refs/pr/*"],
		]) {
			const since = hub.log.length;
			const run = await ctx.sync(data, [`${R}@${revision}`]);
			assert.equal(run.code, 0, `${revision}: the re-sync must succeed`);
			assert.ok(run.stdout.includes(after.sha), `${revision}: stdout names the new commit`);
			const downloaded = hub.log.slice(since).filter((r) => r.route === "resolve").map((r) => r.path);
			assert.deepEqual(downloaded, ["config.json"], `${revision}: only the changed file was downloaded`);
			const mirror = await ctx.serve(data);
			const refs = await mirrorRefs(mirror);
			assert.deepEqual(refs.pullRequests.find((r) => r.name === "16"), { name: "16", ref: "refs/pr/16", targetCommit: after.sha }, `${revision}: /refs`);
			for (const path of after.files.keys()) await assertFileAt(mirror, "refs/pr/16", after, path, `${revision}, moved`);
			await assertReadableById(mirror, before, `${revision}: the pull request's former commit`);
			await mirror.stop();
		}
	});

	scenario("the repo flags and details are refreshed with one request when the commit is unchanged", async (ctx) => {
		const hub = await ctx.startHub({ repos: [refsRepo({ approvedTokens: [APPROVED_TOKEN], config: { model_type: "llama" }, likes: 3 })] });
		const data = newDataDir();
		const env = { [TOKEN_ENV]: APPROVED_TOKEN };
		const sync = (revision) => ctx.sync(data, ["--token-env", TOKEN_ENV, `${R}@${revision}`], { env });
		assert.equal((await sync("main")).code, 0);
		assert.equal((await sync("v1.0")).code, 0);
		const auth = { headers: bearer(APPROVED_TOKEN) };
		// The repo turns gated, then private: the mirror is read by a user of its own granted access.
		const reader = { headers: bearer(await createMirrorToken(BIN, data, "reader", { grants: [R] })) };
		const fields = ["_id", "author", "sha", "lastModified", "createdAt", "private", "disabled", "gated", "downloads", "likes"];
		const commitFields = ["library_name", "pipeline_tag", "tags", "config", "cardData", "safetensors"];

		for (const changes of [
			{
				gated: "manual",
				author: "acme-labs",
				createdAt: "2023-01-02T03:04:05.678Z",
				lastModified: "2025-06-07T08:09:10.111Z",
				downloads: 123456,
				likes: 789,
				config: { model_type: "llama", architectures: ["LlamaForCausalLM"] },
				safetensors: { parameters: { BF16: 1234 }, total: 1234 },
				cardData: { license: "apache-2.0", language: ["en"] },
				tags: ["transformers", "llama", "license:apache-2.0"],
				pipelineTag: "text2text-generation",
				libraryName: "vllm",
			},
			{ gated: "auto", private: true, disabled: true, pipelineTag: null, libraryName: null, config: null, safetensors: null },
		]) {
			hub.updateRepo(R, changes);
			for (const revision of ["main", "v1.0"]) {
				const since = hub.log.length;
				const run = await sync(revision);
				assert.equal(run.code, 0, `re-sync of ${revision} after ${JSON.stringify(changes)}`);
				assert.match(run.stdout, /up to date/);
				assertOneRequest(hub, since, revision, `re-sync of ${R}@${revision}`);
			}
			const mirror = await ctx.serve(data);
			for (const [path, revision] of [
				["", "main"],
				["/revision/v1.0", "v1.0"],
			]) {
				const expected = await getJson(`${hub.url}/api/models/${R}${path}`, auth);
				const actual = await getJson(`${mirror.url}/api/models/${R}${path}`, reader);
				for (const field of fields) assert.deepEqual(actual[field], expected[field], `${revision}: ${field} after ${Object.keys(changes)}`);
				for (const field of commitFields) assert.deepEqual(actual[field], expected[field], `${revision}: ${field} after ${Object.keys(changes)}`);
				const expand = [...fields.slice(1), ...commitFields].map((f) => `expand=${f}`).join("&");
				const expanded = await getJson(`${mirror.url}/api/models/${R}/revision/${revision}?${expand}`, reader);
				for (const field of [...fields, ...commitFields]) assert.deepEqual(expanded[field], expected[field], `${revision}, expand: ${field}`);
			}
			// The refreshed flags are enforced: gated content needs a grant, a private repo is not there for anyone else.
			if (changes.private) {
				const hidden = await fetch(`${mirror.url}/api/models/${R}`);
				await hidden.arrayBuffer();
				assert.equal(hidden.status, 404, "a private repo, anonymously");
				assert.equal(hidden.headers.get("x-error-code"), "RepoNotFound");
			} else {
				await assertGatedAnonymously(`${mirror.url}/${R}/resolve/main/config.json`);
			}
			await mirror.stop();
		}
	});

	scenario("revisions in a serve --config rule: mirrored, then moved and deleted refs followed by the next pass", async (ctx) => {
		const hub = await ctx.startHub({ repos: [refsRepo()] });
		// The shortest interval a config may set.
		const config = await writeConfig(hub, ['revisions = ["main", "refs/pr/*", "tags/*"]'], ["[schedule]", "interval_seconds = 10"]);
		const data = newDataDir();
		const mirror = await ctx.serve(data, { args: ["--config", config], keepStderr: 20_000 });
		const wanted = ["refs/heads/main", "refs/pr/7", "refs/pr/16", "refs/tags/v1.0", "refs/tags/v2.0"];
		const targets = (refs) => JSON.stringify(Object.values(refs).flat().map((r) => `${r.ref} ${r.targetCommit}`).sort());
		const matches = async (expected) => {
			const res = await fetch(`${mirror.url}/api/models/${R}/refs?include_prs=1`);
			return res.status === 200 && targets(await res.json()) === targets(expected);
		};
		let expected = await upstreamRefsOnly(hub, wanted);
		await eventually(() => matches(expected), 15_000, "the first pass mirrored main, the pull requests and the tags");
		assertSameRefs(await mirrorRefs(mirror), expected, "after the first pass");
		const status = await getJson(`${mirror.url}/api/mirror/status`);
		assert.ok(status.repos.every((r) => r.in_sync && r.last_error === null), `status: ${JSON.stringify(status.repos)}`);

		const deleted = hub.commit(R, "v1.0");
		hub.deleteRef(R, "refs/tags/v1.0");
		const moved = hub.setRef(R, "refs/pr/16", { files: filesOf("pr-16, moved") });
		hub.setRef(R, "refs/pr/21", { files: filesOf("pr-21") });
		hub.setRef(R, "refs/heads/feature", { files: filesOf("feature") });
		hub.updateRepo(R, { likes: 4242, downloads: 31337 });
		expected = await upstreamRefsOnly(hub, [...wanted, "refs/pr/21"]);
		await eventually(() => matches(expected), 25_000, "the next pass followed the moved, new and deleted refs");
		assertSameRefs(await mirrorRefs(mirror), expected, "after the second pass");
		assert.equal(expected.pullRequests.find((r) => r.name === "16").targetCommit, moved);
		await assertFileAt(mirror, "refs/pr/21", hub.commit(R, "refs/pr/21"), "config.json", "a pull request opened since");
		await assertReadableById(mirror, deleted, "the deleted tag's commit");
		const info = await eventually(async () => {
			const body = await getJson(`${mirror.url}/api/models/${R}`);
			return body.likes === 4242 ? body : null;
		}, 5_000, "the flags refreshed by the pass");
		assert.equal(info.downloads, 31337);
		// The deleted tag is gone from the status page too; what is mirrored stays in sync.
		const after = await getJson(`${mirror.url}/api/mirror/status`);
		const revisions = after.repos.map((r) => r.revision).sort();
		assert.deepEqual(revisions, ["main", "refs/pr/16", "refs/pr/21", "refs/pr/7", "v2.0"], `status: ${JSON.stringify(after.repos)}`);
		assert.ok(after.repos.every((r) => r.in_sync && r.last_error === null), `status: ${JSON.stringify(after.repos)}`);
		assert.ok(mirror.alive(), "serve is still running");
	}, { timeout: 60_000 });

	for (const { label, rule, message } of [
		{
			label: "both revision and revisions",
			rule: ['revision = "main"', 'revisions = ["tags/*"]'],
			message: /mirror\[0\]: give either revision or revisions, not both/,
		},
		{
			label: "an invalid revision among revisions",
			rule: ['revisions = ["main", "bad..name"]'],
			message: /mirror\[0\]\.revisions: invalid revision name 'bad\.\.name'/,
		},
		{ label: "revisions given as a string", rule: ['revisions = "tags/*"'], message: /mirror\[0\]\.revisions: must be an array of strings/ },
	]) {
		scenario(`serve --config with ${label}: exit 2 naming the file and the rule, nothing asked upstream`, async (ctx) => {
			const hub = await ctx.startHub({ repos: [refsRepo()] });
			const config = await writeConfig(hub, rule);
			const run = await ctx.run(["serve", "--data", newDataDir(), "--listen", "127.0.0.1:0", "--config", config]);
			assert.equal(run.code, 2, "a bad config exits 2");
			assert.ok(run.stderr.includes(config), `stderr names ${config}`);
			assert.match(run.stderr, message);
			assert.doesNotMatch(run.stdout, /listening/, "the server did not start");
			assert.deepEqual(hub.log, [], "the upstream was not contacted");
		});
	}

	scenario("invalid revisions exit 2 with one clear line, without contacting the upstream", async (ctx) => {
		const hub = await ctx.startHub({ repos: [refsRepo()] });
		for (const [revision, message] of [
			["bad..name", "hubmirror: invalid revision name 'bad..name': malformed ref name"],
			["refs/pr/abc", "hubmirror: invalid ref 'refs/pr/abc': a pull request is a positive decimal number"],
			["refs/pr/007", "hubmirror: invalid ref 'refs/pr/007': a pull request is a positive decimal number"],
			["refs/convert/a.b", "hubmirror: invalid ref 'refs/convert/a.b': a conversion name is letters, digits, '-' and '_'"],
		]) {
			const data = newDataDir();
			const run = await ctx.sync(data, [`${R}@main`, `${R}@${revision}`]);
			assert.equal(run.code, 2, `${revision}: usage errors exit 2`);
			assert.equal(run.stderr.trim(), message, `${revision}: the message`);
			assert.equal(run.stdout, "");
			assert.deepEqual(hub.log, [], `${revision}: the upstream was not contacted, not even for the valid revision`);
			await assert.rejects(stat(data), { code: "ENOENT" }, `${revision}: no data dir was created`);
		}
	});
});
