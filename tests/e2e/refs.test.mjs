// End-to-end test: repos shaped like real Hub repos (a gated instruct model with a tag and a pull
// request, a gated diffusion model, a dataset with its parquet conversion, a GGUF quantization with
// tags), served by the fake Hub (../fault_upstream/fake_hub.mjs) and mirrored by `hubmirror sync`
// with every ref asked for by name, must read back through the mirror with `@huggingface/hub`
// exactly as the upstream states them: the refs listing, the repo flags and details at each ref,
// the file listings and the bytes of each ref. The gated repos are gated on the mirror too: read by
// a mirror user granted access, refused to anonymous clients. A second hubmirror syncing every ref
// (`REPO@*`) from the first one's `hubmirror serve`, with a token of the first one, must show the
// same refs and flags, and gate the same repos.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test refs.test.mjs
//
// Everything happens on 127.0.0.1 in a fresh temporary directory that is removed afterwards.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";

import { datasetInfo, downloadFile, fileDownloadInfo, listCommits, listFiles, modelInfo, pathsInfo } from "@huggingface/hub";

import { startFakeHub } from "../fault_upstream/fake_hub.mjs";
import { assertSameRefs, revisionsOf } from "../fault_upstream/refs_fixtures.mjs";
import { assertGatedAnonymously, bearer, BIN, createMirrorToken, pseudoRandomBytes, runHubmirror, serveHubmirror, sha256Hex, useWorkRoot } from "../support/harness.mjs";
import { recordingFetch, withTrace } from "./fixture.mjs";

// The upstream's token, sent to the fake Hub only; each mirror has tokens of its own.
const TOKEN_ENV = "HUBMIRROR_E2E_REFS_TOKEN";
const TOKEN = `hf_refs${randomBytes(12).toString("hex")}`;
const FIRST_TOKEN_ENV = "HUBMIRROR_E2E_REFS_FIRST_MIRROR_TOKEN";

const LLAMA = "meta-llama/Llama-3.1-8B-Instruct";
const FLUX = "black-forest-labs/FLUX.1-dev";
const OLMO = "allenai/olmo-mix-1124";
const GGUF = "bartowski/Meta-Llama-3.1-8B-Instruct-GGUF";

const text = (path, content) => ({ path, content: Buffer.from(content) });
const json = (path, value) => text(path, JSON.stringify(value, null, 2) + "\n");
const lfs = (path, seed, size) => ({ path, content: pseudoRandomBytes(seed, size), lfs: true });

function llamaFiles(release) {
	return [
		text(".gitattributes", "*.safetensors filter=lfs diff=lfs merge=lfs -text\n"),
		text("README.md", `---\nlicense: llama3.1\n---\n\n# Llama 3.1 8B Instruct (${release})\n`),
		json("config.json", { architectures: ["LlamaForCausalLM"], model_type: "llama", hidden_size: 4096, rope_scaling: { rope_type: release } }),
		json("generation_config.json", { bos_token_id: 128000, eos_token_id: [128001, 128008, 128009], temperature: 0.6 }),
		json("model.safetensors.index.json", {
			metadata: { total_size: 16060522496 },
			weight_map: { "lm_head.weight": "model-00002-of-00002.safetensors" },
		}),
		lfs("model-00001-of-00002.safetensors", "llama/shard-1", 96 * 1024 + 11),
		lfs("model-00002-of-00002.safetensors", `llama/shard-2/${release}`, 64 * 1024 + 3),
		json("original/params.json", { dim: 4096, n_layers: 32, n_heads: 32, rope_theta: 500000 }),
		text("USE_POLICY.md", "# Llama 3.1 Acceptable Use Policy\n"),
	];
}

function ggufFiles(build) {
	return [
		text("README.md", `---\nbase_model: ${LLAMA}\nlicense: llama3.1\nquantized_by: bartowski\n---\n\nllama.cpp release ${build}\n`),
		lfs("Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf", `gguf/q4/${build}`, 128 * 1024 + 7),
		lfs("Meta-Llama-3.1-8B-Instruct-Q8_0.gguf", `gguf/q8/${build}`, 160 * 1024 + 5),
		json("Meta-Llama-3.1-8B-Instruct.imatrix.json", { build }),
	];
}

const llamaMain = llamaFiles("llama3");
const fluxMain = [
	text("README.md", "---\nlicense: other\nlicense_name: flux-1-dev-non-commercial-license\n---\n\n# FLUX.1 [dev]\n"),
	json("model_index.json", { _class_name: "FluxPipeline", _diffusers_version: "0.30.0.dev0" }),
	lfs("flux1-dev.safetensors", "flux/transformer", 192 * 1024 + 1),
	lfs("ae.safetensors", "flux/ae", 48 * 1024 + 9),
	json("transformer/config.json", { _class_name: "FluxTransformer2DModel", num_layers: 19 }),
	json("scheduler/scheduler_config.json", { _class_name: "FlowMatchEulerDiscreteScheduler", shift: 3.0 }),
];
const olmoMain = [
	text("README.md", "---\nlicense: odc-by\ntask_categories:\n- text-generation\n---\n\n# OLMo 2 mix 1124\n"),
	lfs("data/dclm/dclm-0000.json.zst", "olmo/dclm-0", 80 * 1024 + 17),
	lfs("data/pes2o/pes2o-0000.json.zst", "olmo/pes2o-0", 40 * 1024 + 2),
];

/** The upstream: the four repos, each gated one opened to TOKEN. */
const REPOS = [
	{
		id: LLAMA,
		gated: "manual",
		approvedTokens: [TOKEN],
		author: "meta-llama",
		createdAt: "2024-07-18T08:56:00.000Z",
		lastModified: "2024-09-25T17:00:57.000Z",
		downloads: 5_123_456,
		likes: 4012,
		cardData: { license: "llama3.1", language: ["en", "de", "fr"], extra_gated_prompt: "### LLAMA 3.1 COMMUNITY LICENSE AGREEMENT" },
		tags: ["transformers", "safetensors", "llama", "text-generation", "conversational", "license:llama3.1", "region:us"],
		config: { architectures: ["LlamaForCausalLM"], model_type: "llama", tokenizer_config: { bos_token: "<|begin_of_text|>" } },
		safetensors: { parameters: { BF16: 8030261248 }, total: 8030261248 },
		files: llamaMain,
		refs: {
			tags: { "v1.0": { files: llamaFiles("llama3-v1.0") } },
			// A pull request that only changes the generation config: its other files are main's.
			pullRequests: {
				16: { files: llamaMain.map((f) => (f.path === "generation_config.json" ? json(f.path, { temperature: 0.7, top_p: 0.9 }) : f)) },
			},
		},
	},
	{
		id: FLUX,
		gated: "auto",
		approvedTokens: [TOKEN],
		createdAt: "2024-07-31T21:13:44.000Z",
		lastModified: "2024-08-16T14:38:19.000Z",
		downloads: 1_234_567,
		likes: 8765,
		pipelineTag: "text-to-image",
		libraryName: "diffusers",
		cardData: { license: "other", license_name: "flux-1-dev-non-commercial-license", extra_gated_fields: { Name: "text" } },
		tags: ["diffusers", "safetensors", "text-to-image", "image-generation", "flux", "en", "license:other", "diffusers:FluxPipeline", "region:us"],
		config: { diffusers: { _class_name: "FluxPipeline" } },
		files: fluxMain,
		refs: { pullRequests: { 3: { files: [...fluxMain.filter((f) => f.path !== "README.md"), text("README.md", "# FLUX.1 [dev], typo fixed\n")] } } },
	},
	{
		id: OLMO,
		type: "dataset",
		createdAt: "2024-11-24T20:38:33.000Z",
		lastModified: "2024-12-02T09:10:11.000Z",
		downloads: 98765,
		likes: 77,
		cardData: { license: "odc-by", task_categories: ["text-generation"], language: ["en"], pretty_name: "OLMo 2 Mix (November 2024)" },
		tags: ["task_categories:text-generation", "language:en", "license:odc-by", "size_categories:1B<n<10B", "region:us"],
		files: olmoMain,
		refs: {
			converts: {
				parquet: {
					files: [lfs("default/train/0000.parquet", "olmo/parquet-0", 56 * 1024 + 3), lfs("default/train/0001.parquet", "olmo/parquet-1", 24 * 1024)],
				},
			},
			pullRequests: { 2: { files: [...olmoMain.filter((f) => f.path !== "README.md"), text("README.md", "# OLMo 2 mix 1124\n\nWith a data card.\n")] } },
		},
	},
	{
		id: GGUF,
		createdAt: "2024-07-23T15:36:34.000Z",
		lastModified: "2024-08-05T12:00:00.000Z",
		downloads: 222_333,
		likes: 310,
		libraryName: null,
		cardData: { base_model: LLAMA, license: "llama3.1", quantized_by: "bartowski", pipeline_tag: "text-generation" },
		tags: ["gguf", "facebook", "meta", "llama-3", "text-generation", "en", "license:llama3.1", "endpoints_compatible", "region:us", "conversational"],
		files: ggufFiles("b3472"),
		refs: { tags: { "llamacpp-b3450": { files: ggufFiles("b3450") }, latest: "main" } },
	},
];

/** What was synced: repo id -> its type and the revisions asked for, each named as a client names it. */
const SYNCED = [
	{ id: LLAMA, type: "model", revisions: ["main", "v1.0", "refs/pr/16"] },
	{ id: FLUX, type: "model", revisions: ["main", "refs/pr/3"] },
	{ id: GGUF, type: "model", revisions: ["main", "llamacpp-b3450", "latest"] },
	{ id: OLMO, type: "dataset", revisions: ["main", "refs/convert/parquet", "refs/pr/2"] },
];

/** Every additional field @huggingface/hub may ask for, per repo type. */
const ADDITIONAL = {
	model: ["author", "cardData", "config", "createdAt", "disabled", "library_name", "safetensors", "sha", "tags"],
	dataset: ["author", "cardData", "createdAt", "disabled", "sha", "tags"],
};

/** The gated repos: a mirror's readers are granted access to each. */
const GATED = [LLAMA, FLUX];

/** The fake Hub, and each mirror (as serveWithReader returns it) with its data dir. */
const world = { hub: undefined, first: undefined, second: undefined, firstData: "", secondData: "" };

/**
 * Creates the reader of the instance on `dataDir` (a user of its own, granted GATED) and serves it:
 * its server, its URL and the reader's token.
 */
async function serveWithReader(dataDir) {
	const token = await createMirrorToken(BIN, dataDir, "reader", { grants: GATED });
	const server = await serveHubmirror(BIN, dataDir, { keepStderr: 8000 });
	return { server, url: server.url, token };
}

/** What @huggingface/hub needs to read a mirror as its reader. */
const asReader = (mirror) => ({ hubUrl: mirror.url, accessToken: mirror.token });

const work = useWorkRoot("hubmirror-e2e-refs-", {
	timeout: 90_000,
	async setup(root) {
		world.hub = await startFakeHub({ repos: REPOS });
		world.firstData = root.dir("first");
		const models = SYNCED.filter((r) => r.type === "model").flatMap((r) => r.revisions.map((rev) => `${r.id}@${rev}`));
		const datasets = SYNCED.filter((r) => r.type === "dataset").flatMap((r) => r.revisions.map((rev) => `${r.id}@${rev}`));
		for (const args of [models, ["--type", "dataset", ...datasets]]) {
			await syncOrFail(world.firstData, world.hub.url, ["--token-env", TOKEN_ENV, ...args], { [TOKEN_ENV]: TOKEN });
		}
		world.first = await serveWithReader(world.firstData);
	},
	async teardown() {
		await world.second?.server.stop();
		await world.first?.server.stop();
		await world.hub?.close();
	},
});

async function syncOrFail(dataDir, upstream, args, env = {}) {
	const run = await runHubmirror(BIN, ["sync", "--data", dataDir, "--upstream", upstream, "--retries", "1", ...args], { env, timeoutMs: 60_000 });
	assert.equal(run.code, 0, `hubmirror sync ${args.join(" ")} failed (exit ${run.code})\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
	return run;
}

/** GET a JSON body of the fake Hub, as a user whose token opened the gates. */
async function upstreamJson(path) {
	const res = await fetch(world.hub.url + path, { headers: { authorization: `Bearer ${TOKEN}` } });
	const body = await res.text();
	assert.equal(res.status, 200, `upstream GET ${path}: ${res.status} ${body.slice(0, 300)}`);
	return JSON.parse(body);
}

/** GET a JSON body of a mirror, as its reader. */
async function mirrorJson(mirror, path) {
	const res = await recordingFetch(mirror.url + path, { headers: bearer(mirror.token) });
	const body = await res.text();
	assert.equal(res.status, 200, `mirror GET ${path}: ${res.status} ${body.slice(0, 300)}`);
	return JSON.parse(body);
}

const api = (repo) => `/api/${repo.type}s/${repo.id}`;
const repoRef = (repo) => ({ type: repo.type, name: repo.id });

/**
 * A mirror's default repo info has the properties of the upstream's (_id, the flags, the details,
 * config and safetensors when the upstream has them...), each with the upstream's value.
 */
function assertSameInfo(actual, expected, what) {
	assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), `${what}: the properties of the repo info`);
	for (const field of Object.keys(expected).filter((f) => f !== "siblings")) {
		assert.deepEqual(actual[field], expected[field], `${what}: ${field}`);
	}
	const names = (info) => info.siblings.map((s) => s.rfilename).sort();
	assert.deepEqual(names(actual), names(expected), `${what}: siblings`);
}

describe("refs of every kind and the repo flags, mirrored and read back with @huggingface/hub", () => {
	test("/refs lists every ref the upstream lists, pull requests only when asked for", { timeout: 30_000 }, async (t) => {
		await withTrace(t, async () => {
			for (const repo of SYNCED) {
				for (const query of ["?include_prs=1", ""]) {
					const expected = await upstreamJson(`${api(repo)}/refs${query}`);
					const actual = await mirrorJson(world.first, `${api(repo)}/refs${query}`);
					assertSameRefs(actual, expected, `${repo.id} /refs${query}`);
				}
				const listed = revisionsOf(await mirrorJson(world.first, `${api(repo)}/refs?include_prs=1`));
				assert.deepEqual(listed.sort(), [...repo.revisions].sort(), `${repo.id}: the mirror has the refs asked for`);
			}
			const llama = await mirrorJson(world.first, `/api/models/${LLAMA}/refs?include_prs=true`);
			assert.deepEqual(llama.pullRequests, [{ name: "16", ref: "refs/pr/16", targetCommit: world.hub.commit(LLAMA, "refs/pr/16").sha }]);
			assert.deepEqual(llama.tags, [{ name: "v1.0", ref: "refs/tags/v1.0", targetCommit: world.hub.commit(LLAMA, "v1.0").sha }]);
			assert.deepEqual(llama.branches, [{ name: "main", ref: "refs/heads/main", targetCommit: world.hub.repo(LLAMA).sha }]);
			const olmo = await mirrorJson(world.first, `/api/datasets/${OLMO}/refs`);
			assert.deepEqual(olmo.converts, [
				{ name: "parquet", ref: "refs/convert/parquet", targetCommit: world.hub.commit(OLMO, "refs/convert/parquet", "dataset").sha },
			]);
			assert.equal(olmo.pullRequests, undefined, "no pullRequests without include_prs");
			// A tag that shares main's commit is a tag all the same: its kind came from the upstream's /refs.
			const gguf = await mirrorJson(world.first, `/api/models/${GGUF}/refs`);
			assert.deepEqual(gguf.tags.map((r) => r.ref).sort(), ["refs/tags/latest", "refs/tags/llamacpp-b3450"]);
			assert.deepEqual(gguf.branches.map((r) => r.ref), ["refs/heads/main"]);
		});
	});

	test("repo info at each ref carries the upstream's flags and details", { timeout: 30_000 }, async (t) => {
		await withTrace(t, async () => {
			for (const repo of SYNCED) {
				const expectedHead = await upstreamJson(api(repo));
				assertSameInfo(await mirrorJson(world.first, api(repo)), expectedHead, `${repo.id} info`);
				for (const revision of repo.revisions) {
					const path = `${api(repo)}/revision/${encodeURIComponent(revision)}`;
					const expected = await upstreamJson(path);
					assert.equal(expected.sha, world.hub.commit(repo.id, revision, repo.type).sha);
					assertSameInfo(await mirrorJson(world.first, path), expected, `${repo.id}@${revision} info`);

					const read = repo.type === "model" ? modelInfo : datasetInfo;
					const info = await read({ name: repo.id, ...asReader(world.first), revision, additionalFields: ADDITIONAL[repo.type], fetch: recordingFetch });
					const what = `${read.name}(${repo.id}, revision ${revision})`;
					assert.equal(info.id, expected._id, `${what}: id is the upstream's _id`);
					assert.equal(info.name, repo.id, `${what}: name`);
					assert.equal(info.gated, expected.gated, `${what}: gated`);
					assert.equal(info.private, expected.private, `${what}: private`);
					assert.equal(info.likes, expected.likes, `${what}: likes`);
					assert.equal(info.downloads, expected.downloads, `${what}: downloads`);
					assert.equal(info.updatedAt.toISOString(), expected.lastModified, `${what}: updatedAt`);
					if (repo.type === "model") assert.equal(info.task, expected.pipeline_tag, `${what}: task`);
					for (const field of ADDITIONAL[repo.type]) {
						assert.deepEqual(info[field], expected[field], `${what}: ${field}`);
					}
				}
			}
			// The flags as the upstream sets them, spelt out; a gated repo's metadata is public, as on the Hub.
			const flags = await modelInfo({ name: LLAMA, hubUrl: world.first.url, revision: "refs/pr/16", additionalFields: ["config", "safetensors"] });
			assert.equal(flags.gated, "manual");
			assert.deepEqual(flags.safetensors, { parameters: { BF16: 8030261248 }, total: 8030261248 });
			assert.equal((await modelInfo({ name: FLUX, hubUrl: world.first.url })).gated, "auto");
			assert.equal((await datasetInfo({ name: OLMO, hubUrl: world.first.url, revision: "refs/convert/parquet" })).gated, false);
		});
	});

	test("listFiles, pathsInfo and listCommits at each ref", { timeout: 30_000 }, async (t) => {
		await withTrace(t, async () => {
			for (const repo of SYNCED) {
				for (const revision of repo.revisions) {
					const commit = world.hub.commit(repo.id, revision, repo.type);
					const what = `${repo.id}@${revision}`;
					const listed = [];
					for await (const entry of listFiles({ repo: repoRef(repo), revision, recursive: true, ...asReader(world.first), fetch: recordingFetch })) {
						listed.push(entry);
					}
					const shape = (e) => ({ path: e.path, size: e.size, oid: e.oid, ...(e.lfs ? { lfs: e.lfs } : {}) });
					const byPath = (a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
					assert.deepEqual(
						listed.filter((e) => e.type === "file").map(shape).sort(byPath),
						commit.tree.filter((e) => e.type === "file").map(shape).sort(byPath),
						`${what}: listFiles`,
					);
					assert.deepEqual(
						listed.filter((e) => e.type === "directory").map((e) => e.path).sort(),
						commit.tree.filter((e) => e.type === "directory").map((e) => e.path).sort(),
						`${what}: listFiles directories`,
					);

					const paths = [...commit.files.keys()];
					const infos = await pathsInfo({ repo: repoRef(repo), revision, paths, ...asReader(world.first), fetch: recordingFetch });
					assert.deepEqual(infos.map((i) => i.path).sort(), [...paths].sort(), `${what}: pathsInfo`);
					for (const info of infos) {
						const file = commit.files.get(info.path);
						assert.equal(info.oid, file.oid, `${what}: pathsInfo ${info.path} oid`);
						assert.equal(info.lfs?.oid, file.lfs ? file.sha256 : undefined, `${what}: pathsInfo ${info.path} lfs`);
					}

					const commits = [];
					for await (const c of listCommits({ repo: repoRef(repo), revision, ...asReader(world.first), fetch: recordingFetch })) commits.push(c);
					assert.ok(commits.length >= 1, `${what}: listCommits is empty`);
					assert.equal(commits[0].oid, commit.sha, `${what}: listCommits starts at the ref's commit`);
				}
			}
		});
	});

	test("each ref's files download with their bytes and ETags", { timeout: 60_000 }, async (t) => {
		await withTrace(t, async () => {
			for (const repo of SYNCED) {
				for (const revision of repo.revisions.filter((r) => r !== "main")) {
					const commit = world.hub.commit(repo.id, revision, repo.type);
					for (const file of commit.files.values()) {
						const what = `${repo.id}@${revision}/${file.path}`;
						const info = await fileDownloadInfo({ repo: repoRef(repo), path: file.path, revision, ...asReader(world.first), fetch: recordingFetch });
						assert.ok(info, `${what}: fileDownloadInfo returned null`);
						assert.equal(info.size, file.size, `${what}: size`);
						assert.equal(info.etag, `"${file.lfs ? file.sha256 : file.gitSha1}"`, `${what}: ETag`);
						const blob = await downloadFile({ repo: repoRef(repo), path: file.path, revision, ...asReader(world.first), fetch: recordingFetch });
						assert.ok(blob, `${what}: downloadFile returned null`);
						assert.equal(sha256Hex(Buffer.from(await blob.arrayBuffer())), file.sha256, `${what}: sha256`);
					}
				}
			}
			// The same path differs between refs: each ref serves its own bytes.
			const pr = await downloadFile({ repo: LLAMA, path: "generation_config.json", revision: "refs/pr/16", ...asReader(world.first) });
			const main = await downloadFile({ repo: LLAMA, path: "generation_config.json", ...asReader(world.first) });
			assert.deepEqual(JSON.parse(await pr.text()), { temperature: 0.7, top_p: 0.9 });
			assert.equal(JSON.parse(await main.text()).temperature, 0.6);
			await assertGatedAnonymously(`${world.first.url}/${LLAMA}/resolve/refs%2Fpr%2F16/generation_config.json`);
		});
	});

	test("a second hubmirror syncing every ref from the first one shows the same refs and flags", { timeout: 90_000 }, async (t) => {
		world.secondData = work.dir("second");
		const models = SYNCED.filter((r) => r.type === "model").map((r) => `${r.id}@*`);
		const datasets = SYNCED.filter((r) => r.type === "dataset").map((r) => `${r.id}@*`);
		// The first mirror is the second one's upstream: the second syncs with a token of the first's.
		const env = { [FIRST_TOKEN_ENV]: await createMirrorToken(BIN, world.firstData, "second-mirror", { grants: GATED }) };
		await syncOrFail(world.secondData, world.first.url, ["--token-env", FIRST_TOKEN_ENV, ...models], env);
		await syncOrFail(world.secondData, world.first.url, ["--token-env", FIRST_TOKEN_ENV, "--type", "dataset", ...datasets], env);
		world.second = await serveWithReader(world.secondData);
		await withTrace(t, async () => {
			for (const repo of SYNCED) {
				for (const query of ["?include_prs=1", ""]) {
					const first = await mirrorJson(world.first, `${api(repo)}/refs${query}`);
					const second = await mirrorJson(world.second, `${api(repo)}/refs${query}`);
					assertSameRefs(second, first, `${repo.id} /refs${query} on the second mirror`);
					assertSameRefs(second, await upstreamJson(`${api(repo)}/refs${query}`), `${repo.id} /refs${query}, second mirror against the upstream`);
				}
				assertSameInfo(await mirrorJson(world.second, api(repo)), await upstreamJson(api(repo)), `${repo.id} info on the second mirror`);
				for (const revision of repo.revisions) {
					const path = `${api(repo)}/revision/${encodeURIComponent(revision)}`;
					assertSameInfo(await mirrorJson(world.second, path), await upstreamJson(path), `${repo.id}@${revision} info on the second mirror`);
				}
				const read = repo.type === "model" ? modelInfo : datasetInfo;
				const [onFirst, onSecond] = await Promise.all(
					[world.first, world.second].map((m) => read({ name: repo.id, ...asReader(m), additionalFields: ADDITIONAL[repo.type] })),
				);
				const plain = (info) => ({ ...info, updatedAt: info.updatedAt.toISOString() });
				assert.deepEqual(plain(onSecond), plain(onFirst), `${repo.id}: ${read.name} on both mirrors`);
			}
			const prFile = world.hub.commit(LLAMA, "refs/pr/16").files.get("generation_config.json");
			const blob = await downloadFile({ repo: LLAMA, path: prFile.path, revision: "refs/pr/16", ...asReader(world.second), fetch: recordingFetch });
			assert.equal(sha256Hex(Buffer.from(await blob.arrayBuffer())), prFile.sha256, "a pull request's file from the second mirror");
			const parquet = world.hub.commit(OLMO, "refs/convert/parquet", "dataset").files.get("default/train/0000.parquet");
			const converted = await downloadFile({
				repo: { type: "dataset", name: OLMO },
				path: parquet.path,
				revision: "refs/convert/parquet",
				...asReader(world.second),
			});
			assert.equal(sha256Hex(Buffer.from(await converted.arrayBuffer())), parquet.sha256, "a conversion's file from the second mirror");
			await assertGatedAnonymously(`${world.second.url}/${FLUX}/resolve/main/ae.safetensors`);
		});
	});
});
