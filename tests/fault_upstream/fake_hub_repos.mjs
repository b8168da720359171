// The fake Hub's repositories (see fake_hub.mjs): files with their digests, the recursive tree, the
// commit, the lineage the Hub derives from a card (base_model tags, baseModels,
// childrenModelCount), and the JSON the Hub answers for a repo: its info (default payload or
// `expand`, hub-protocol.md §3.1) and its listing item (§3.6). Plain Node 20.

import { createHash } from "node:crypto";

import { gitBlobSha1, lfsPointer, sha256Hex } from "../support/harness.mjs";

/**
 * @typedef {{ path: string, content: Buffer, lfs?: boolean }} FileSpec
 * @typedef {{
 *   id: string,                       // "namespace/name"
 *   files: FileSpec[],
 *   gated?: boolean,                  // the routes in gateOn need an approved token (model info stays public)
 *   gateOn?: string[],                // default ["commits", "tree", "resolve"] ("resolve" covers /api/resolve-cache)
 *   approvedTokens?: string[],        // tokens whose user accepted the gate
 *   cardData?: object, tags?: string[],  // tags: the card's own; base_model tags are derived from cardData
 *   downloads?: number, likes?: number,  // what the repo info and listings say (default 0)
 *   pipelineTag?: string | null,      // default "text-generation" (null: none)
 *   libraryName?: string | null,      // default "transformers" (null: none)
 *   pageSize?: number,                // tree entries per page (default: the hub's)
 *   treeLinkOrigin?: string,          // origin put in the tree's rel="next" links (default: the hub's own)
 * }} RepoSpec
 */

const RELATIONS = ["adapter", "merge", "quantized", "finetune"];

/** The model properties the Hub accepts in `expand` (hub-protocol.md §3.1); any other is a 400. */
export const MODEL_EXPAND = new Set(
	(
		"author baseModels cardData childrenModelCount config createdAt disabled downloads downloadsAllTime " +
		"evalResults gated gguf gitalyUid inference inferenceProviderMapping lastModified library_name likes " +
		"mask_token model-index pipeline_tag private resourceGroup safetensors sha siblings spaces tags " +
		"transformersInfo trendingScore usedStorage widgetData xetEnabled"
	).split(" "),
);

/** The keys of the repo info without `expand`, in the Hub's order. */
const INFO_KEYS = [
	"_id",
	"id",
	"modelId",
	"author",
	"sha",
	"lastModified",
	"createdAt",
	"private",
	"disabled",
	"gated",
	"downloads",
	"likes",
	"library_name",
	"pipeline_tag",
	"tags",
	"cardData",
	"siblings",
	"spaces",
	"usedStorage",
];
/** A listing item's keys, in the Hub's order; `full=true` adds FULL_LISTING_KEYS. */
const LISTING_KEYS = ["_id", "id", "likes", "trendingScore", "private", "downloads", "tags", "pipeline_tag", "library_name", "createdAt", "modelId"];
const FULL_LISTING_KEYS = ["author", "sha", "lastModified", "gated", "disabled", "siblings"];

/** The 24-hex object id the fake gives a repo id (the Hub's is a Mongo ObjectId). */
function objectIdOf(id) {
	return createHash("sha1").update(`repo\0${id}`).digest("hex").slice(0, 24);
}

/** A Xet-style content hash: 64 hex, deliberately NOT the sha256 of the bytes. */
function fakeXetHash(buf) {
	return createHash("sha256").update("fake-xet-merkle\0").update(buf).digest("hex");
}

/** The `keys` of `record` that it has, in that order. */
function pick(record, keys) {
	return Object.fromEntries(keys.filter((k) => Object.hasOwn(record, k)).map((k) => [k, record[k]]));
}

function buildRepo(spec, index) {
	const files = new Map();
	const commitHash = createHash("sha1").update(`fake commit\0${spec.id}\0`);
	for (const f of [...spec.files].sort((a, b) => (a.path < b.path ? -1 : 1))) {
		const content = Buffer.from(f.content);
		const sha256 = sha256Hex(content);
		const lfs = Boolean(f.lfs);
		const pointer = lfs ? lfsPointer(sha256, content.length) : undefined;
		const file = {
			path: f.path,
			content,
			size: content.length,
			lfs,
			sha256,
			gitSha1: gitBlobSha1(content),
			oid: lfs ? gitBlobSha1(Buffer.from(pointer)) : gitBlobSha1(content),
			pointerSize: lfs ? Buffer.byteLength(pointer) : undefined,
			xetHash: lfs ? fakeXetHash(content) : undefined,
		};
		files.set(f.path, file);
		commitHash.update(`${file.path}\0${file.oid}\0`);
	}
	const directories = new Set();
	for (const path of files.keys()) {
		const parts = path.split("/");
		for (let i = 1; i < parts.length; i++) {
			directories.add(parts.slice(0, i).join("/"));
		}
	}
	const tree = [];
	for (const dir of directories) {
		tree.push({
			type: "directory",
			oid: createHash("sha1").update(`tree\0${spec.id}\0${dir}`).digest("hex"),
			size: 0,
			path: dir,
		});
	}
	for (const file of files.values()) {
		const entry = { type: "file", oid: file.oid, size: file.size, path: file.path };
		if (file.lfs) {
			entry.lfs = { oid: file.sha256, size: file.size, pointerSize: file.pointerSize };
			entry.xetHash = file.xetHash;
		}
		tree.push(entry);
	}
	tree.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
	return {
		...spec,
		objectId: objectIdOf(spec.id),
		index,
		sha: commitHash.digest("hex"),
		files,
		tree,
		cardData: spec.cardData ?? { license: "mit" },
		tags: spec.tags ?? ["safetensors", "license:mit", "region:us"],
		downloads: spec.downloads ?? 0,
		likes: spec.likes ?? 0,
		pipelineTag: spec.pipelineTag === undefined ? "text-generation" : spec.pipelineTag,
		libraryName: spec.libraryName === undefined ? "transformers" : spec.libraryName,
	};
}

/** A repo id as the Hub accepts one: `name` or `namespace/name`, each part [A-Za-z0-9._-], no `--` or `..`. */
function isValidRepoId(id) {
	if (typeof id !== "string" || id.length > 96) return false;
	const parts = id.split("/");
	return (
		parts.length <= 2 &&
		parts.every((p) => /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/.test(p) && !p.includes("--") && !p.includes(".."))
	);
}

/** The base models a card names (string or list), valid ids only, as written. */
function cardBaseModels(cardData) {
	const raw = cardData?.base_model;
	const list = typeof raw === "string" ? [raw] : Array.isArray(raw) ? raw.filter((x) => typeof x === "string") : [];
	return list.filter(isValidRepoId);
}

/** The relation the Hub gives a repo's base models: declared, else inferred (hub-protocol.md §5). */
function baseModelRelation(repo, parents) {
	const declared = repo.cardData?.base_model_relation;
	if (RELATIONS.includes(declared)) return declared;
	if (parents.length >= 2) return "merge";
	const tags = new Set(repo.tags);
	const paths = [...repo.files.keys()];
	if (["gguf", "gptq", "awq", "exl2", "bitsandbytes"].some((t) => tags.has(t)) || paths.some((p) => p.toLowerCase().endsWith(".gguf"))) {
		return "quantized";
	}
	if (tags.has("lora") || tags.has("peft") || repo.libraryName === "peft" || paths.some((p) => p === "adapter_config.json" || p.endsWith("/adapter_config.json"))) {
		return "adapter";
	}
	return "finetune";
}

/** The repos of one fake hub. Repo ids match case-insensitively; bodies carry the canonical id. */
export class RepoSet {
	/** @type {Map<string, ReturnType<typeof buildRepo>>} */
	#byId = new Map();
	/** Lower-cased id -> repo: the Hub finds repos whatever the case of the id asked for. */
	#byLowerId = new Map();
	#statesBaseModels;

	/** `baseModels`: whether the repo info states `baseModels` (false: never, as a server that lacks it). */
	constructor({ baseModels = true } = {}) {
		this.#statesBaseModels = baseModels;
	}

	/** @param {RepoSpec} spec */
	add(spec) {
		const repo = buildRepo(spec, this.#byId.size);
		this.#byId.set(spec.id, repo);
		this.#byLowerId.set(spec.id.toLowerCase(), repo);
		return repo;
	}

	/** The repo with this id, in any case. */
	find(id) {
		return this.#byId.get(id) ?? this.#byLowerId.get(String(id).toLowerCase());
	}

	/** Every repo, in the order they were added. */
	all() {
		return [...this.#byId.values()];
	}

	/**
	 * The base models the Hub links a repo to: { relation, ids } or undefined when its card names
	 * none. An id naming a repo of this hub in another case becomes that repo's id; others stay as
	 * the card spells them, a self-reference included.
	 */
	lineage(repo) {
		const parents = cardBaseModels(repo.cardData);
		if (parents.length === 0) return undefined;
		return { relation: baseModelRelation(repo, parents), ids: parents.map((written) => this.find(written)?.id ?? written) };
	}

	/** A repo's tags as the Hub serves them: its own, then base_model:ID and base_model:RELATION:ID. */
	tags(repo) {
		const tags = [...repo.tags];
		const lineage = this.lineage(repo);
		for (const id of lineage?.ids ?? []) {
			for (const tag of [`base_model:${id}`, `base_model:${lineage.relation}:${id}`]) {
				if (!tags.includes(tag)) tags.push(tag);
			}
		}
		return tags;
	}

	/** How many repos of this hub name `repo` as a base model, per relation. */
	childrenCount(repo) {
		const counts = Object.fromEntries(RELATIONS.map((r) => [r, 0]));
		for (const child of this.all()) {
			const lineage = this.lineage(child);
			if (lineage?.ids.includes(repo.id)) counts[lineage.relation]++;
		}
		return counts;
	}

	/** Every property the fake knows of a repo at commit `sha` (the default payload is a subset). */
	#record(repo, sha) {
		const lineage = this.lineage(repo);
		return {
			_id: repo.objectId,
			id: repo.id,
			modelId: repo.id,
			author: repo.id.split("/")[0],
			sha,
			lastModified: "2024-10-01T00:00:00.000Z",
			createdAt: "2024-09-01T00:00:00.000Z",
			private: false,
			disabled: false,
			gated: repo.gated ? "manual" : false,
			downloads: repo.downloads,
			likes: repo.likes,
			...(repo.libraryName !== null ? { library_name: repo.libraryName } : {}),
			...(repo.pipelineTag !== null ? { pipeline_tag: repo.pipelineTag } : {}),
			tags: this.tags(repo),
			cardData: repo.cardData,
			siblings: [...repo.files.keys()].map((p) => ({ rfilename: p })),
			spaces: [],
			usedStorage: [...repo.files.values()].reduce((s, f) => s + f.size, 0),
			...(lineage && this.#statesBaseModels
				? { baseModels: { relation: lineage.relation, models: lineage.ids.map((id) => ({ _id: this.find(id)?.objectId ?? objectIdOf(id), id })) } }
				: {}),
			childrenModelCount: this.childrenCount(repo),
			downloadsAllTime: repo.downloads,
			trendingScore: 0,
		};
	}

	/**
	 * The repo info at commit `sha`: without `expand` the default payload; with it exactly `_id`,
	 * `id` and the properties asked for that the repo has (a model without base models has no
	 * `baseModels`). The values must be in MODEL_EXPAND.
	 */
	info(repo, sha, expand = []) {
		const record = this.#record(repo, sha);
		return expand.length === 0 ? pick(record, INFO_KEYS) : pick(record, ["_id", "id", ...new Set(expand)]);
	}

	/** One listing item: the Hub's default keys, in its order; cardData and full=true add more. */
	listingItem(repo, { withCard, full }) {
		const record = this.#record(repo, repo.sha);
		const item = {
			...pick(record, LISTING_KEYS),
			createdAt: new Date(Date.UTC(2024, 8, 1) + repo.index * 3_600_000).toISOString(),
			modelId: repo.id,
		};
		if (full) Object.assign(item, pick(record, FULL_LISTING_KEYS));
		if (withCard || full) item.cardData = repo.cardData;
		return item;
	}
}
