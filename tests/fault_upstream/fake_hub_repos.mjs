// The fake Hub's repositories (see fake_hub.mjs): models and datasets with their refs and commits
// (fake_hub_refs.mjs), flags and details, the lineage the Hub derives from a card (base_model tags,
// baseModels, childrenModelCount), and the JSON the Hub answers for a repo: its info (default
// payload or `expand`, hub-protocol.md §3.1) and its listing item (§3.6). Plain Node 20.

import { createHash } from "node:crypto";

import { RepoGit } from "./fake_hub_refs.mjs";

/**
 * @typedef {{ path: string, content: Buffer, lfs?: boolean }} FileSpec
 * @typedef {{ files: FileSpec[] } | string} RefTarget  // its own commit, or a revision of the repo whose commit it shares
 * @typedef {{
 *   id: string,                       // "namespace/name"
 *   type?: "model" | "dataset",       // default "model"
 *   files: FileSpec[],                // the main branch
 *   refs?: {                          // more refs, by name: branches (not main), tags, PR numbers, converts
 *     branches?: Record<string, RefTarget>, tags?: Record<string, RefTarget>,
 *     pullRequests?: Record<number, RefTarget>, converts?: Record<string, RefTarget>,
 *   },
 *   gated?: boolean | "auto" | "manual", // true is "manual"; either way the routes in gateOn need an approved token (the info stays public)
 *   gateOn?: string[],                // default ["commits", "tree", "refs", "resolve"] ("resolve" covers /api/resolve-cache)
 *   approvedTokens?: string[],        // tokens whose user accepted the gate, or may see the private repo
 *   private?: boolean,                // without an approved token the repo answers as a missing one, and is not listed
 *   disabled?: boolean,               // the info says so; every other route of the repo is refused
 *   author?: string,                  // default: the namespace
 *   createdAt?: string, lastModified?: string,  // ISO with ms and Z (defaults 2024-09-01, 2024-10-01)
 *   config?: object, safetensors?: object,      // models only: in the default payload when given
 *   cardData?: object, tags?: string[],  // tags: the card's own; base_model tags are derived from cardData
 *   downloads?: number, likes?: number,  // what the repo info and listings say (default 0)
 *   pipelineTag?: string | null,      // models: default "text-generation" (null: none)
 *   libraryName?: string | null,      // models: default "transformers" (null: none)
 *   pageSize?: number,                // tree entries per page (default: the hub's)
 *   treeLinkOrigin?: string,          // origin put in the tree's rel="next" links (default: the hub's own)
 * }} RepoSpec
 */

const RELATIONS = ["adapter", "merge", "quantized", "finetune"];

/** The properties the Hub accepts in `expand`, per repo type (hub-protocol.md §3.1); any other is a 400. */
export const EXPAND = {
	model: new Set(
		(
			"author baseModels cardData childrenModelCount config createdAt disabled downloads downloadsAllTime " +
			"evalResults gated gguf gitalyUid inference inferenceProviderMapping lastModified library_name likes " +
			"mask_token model-index pipeline_tag private resourceGroup safetensors sha siblings spaces tags " +
			"transformersInfo trendingScore usedStorage widgetData xetEnabled"
		).split(" "),
	),
	dataset: new Set(
		(
			"author cardData citation createdAt description disabled downloads downloadsAllTime gated lastModified " +
			"likes mainSize paperswithcode_id private resourceGroup sha siblings tags trendingScore usedStorage"
		).split(" "),
	),
};

/** The RepoSpec keys a test may change on a repo of a running hub (files and refs change through its refs). */
const UPDATABLE = new Set(
	(
		"gated gateOn approvedTokens private disabled author createdAt lastModified config safetensors cardData tags " +
		"downloads likes pipelineTag libraryName pageSize treeLinkOrigin"
	).split(" "),
);

const DEFAULT_CREATED_AT = "2024-09-01T00:00:00.000Z";
const DEFAULT_LAST_MODIFIED = "2024-10-01T00:00:00.000Z";

/** The keys of the repo info without `expand`, in the Hub's order (a dataset has only some). */
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
	"config",
	"cardData",
	"siblings",
	"spaces",
	"safetensors",
	"usedStorage",
];
/** A listing item's keys, in the Hub's order; `full=true` adds FULL_LISTING_KEYS. */
const LISTING_KEYS = ["_id", "id", "likes", "trendingScore", "private", "downloads", "tags", "pipeline_tag", "library_name", "createdAt", "modelId"];
const FULL_LISTING_KEYS = ["author", "sha", "lastModified", "gated", "disabled", "siblings"];

/** The 24-hex object id the fake gives a repo (the Hub's is a Mongo ObjectId). */
function objectIdOf(id, type = "model") {
	return createHash("sha1")
		.update(type === "model" ? `repo\0${id}` : `repo\0${type}\0${id}`)
		.digest("hex")
		.slice(0, 24);
}

/** The `keys` of `record` that it has, in that order. */
function pick(record, keys) {
	return Object.fromEntries(keys.filter((k) => Object.hasOwn(record, k)).map((k) => [k, record[k]]));
}

/** `gated` as the Hub states it: false, "auto" or "manual" (the boolean true of a RepoSpec is "manual"). */
function gatedValue(gated) {
	return gated === true ? "manual" : gated || false;
}

function checkGated(id, gated) {
	if (![undefined, false, true, "auto", "manual"].includes(gated)) {
		throw new Error(`${id}: gated is false, true, "auto" or "manual", not ${JSON.stringify(gated)}`);
	}
}

function buildRepo(spec, index) {
	const { files, refs, ...rest } = spec;
	const type = spec.type ?? "model";
	if (!Object.hasOwn(EXPAND, type)) throw new Error(`${spec.id}: type is "model" or "dataset", not ${JSON.stringify(type)}`);
	checkGated(spec.id, spec.gated);
	const git = new RepoGit(spec.id, files, refs);
	return {
		...rest,
		type,
		objectId: objectIdOf(spec.id, type),
		index,
		git,
		// main's commit, files and tree: what a sync of the default revision must mirror
		get sha() {
			return git.main.sha;
		},
		get files() {
			return git.main.files;
		},
		get tree() {
			return git.main.tree;
		},
		cardData: spec.cardData ?? { license: "mit" },
		tags: spec.tags ?? (type === "model" ? ["safetensors", "license:mit", "region:us"] : ["license:mit", "region:us"]),
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
	/** "type id" -> repo, in the order the repos were added */
	/** @type {Map<string, ReturnType<typeof buildRepo>>} */
	#byId = new Map();
	/** "type lower-cased id" -> repo: the Hub finds repos whatever the case of the id asked for. */
	#byLowerId = new Map();
	#added = 0;
	#statesBaseModels;

	/** `baseModels`: whether the repo info states `baseModels` (false: never, as a server that lacks it). */
	constructor({ baseModels = true } = {}) {
		this.#statesBaseModels = baseModels;
	}

	/** @param {RepoSpec} spec */
	add(spec) {
		const repo = buildRepo(spec, this.#added++);
		this.#byId.set(`${repo.type} ${spec.id}`, repo);
		this.#byLowerId.set(`${repo.type} ${spec.id.toLowerCase()}`, repo);
		return repo;
	}

	/** The repo of this type ("model" or "dataset") with this id, in any case. */
	find(id, type = "model") {
		return this.#byId.get(`${type} ${id}`) ?? this.#byLowerId.get(`${type} ${String(id).toLowerCase()}`);
	}

	/** Every repo (of `type` when given), in the order they were added. */
	all(type = undefined) {
		return [...this.#byId.values()].filter((repo) => type === undefined || repo.type === type);
	}

	/** Changes a repo's flags and details: `changes` holds RepoSpec keys, each replacing the repo's value. */
	update(repo, changes) {
		for (const key of Object.keys(changes)) {
			if (!UPDATABLE.has(key)) throw new Error(`${repo.id}: ${key} cannot be updated (one of ${[...UPDATABLE].join(", ")})`);
		}
		checkGated(repo.id, changes.gated);
		Object.assign(repo, changes);
	}

	/**
	 * The base models the Hub links a model to: { relation, ids } or undefined when its card names
	 * none (or it is a dataset). An id naming a model of this hub in another case becomes that
	 * model's id; others stay as the card spells them, a self-reference included.
	 */
	lineage(repo) {
		const parents = repo.type === "model" ? cardBaseModels(repo.cardData) : [];
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

	/** How many models of this hub name `repo` as a base model, per relation. */
	childrenCount(repo) {
		const counts = Object.fromEntries(RELATIONS.map((r) => [r, 0]));
		for (const child of this.all("model")) {
			const lineage = this.lineage(child);
			if (lineage?.ids.includes(repo.id)) counts[lineage.relation]++;
		}
		return counts;
	}

	/** The `createdAt` of a listing item: the repo's own, else one hour apart in the order added. */
	listedCreatedAt(repo) {
		return repo.createdAt ?? new Date(Date.UTC(2024, 8, 1) + repo.index * 3_600_000).toISOString();
	}

	/** Every property the fake knows of a repo at `commit` (the default payload is a subset). */
	#record(repo, commit) {
		const model = repo.type === "model";
		const lineage = this.lineage(repo);
		return {
			_id: repo.objectId,
			id: repo.id,
			...(model ? { modelId: repo.id } : {}),
			author: repo.author ?? repo.id.split("/")[0],
			sha: commit.sha,
			lastModified: repo.lastModified ?? DEFAULT_LAST_MODIFIED,
			createdAt: repo.createdAt ?? DEFAULT_CREATED_AT,
			private: Boolean(repo.private),
			disabled: Boolean(repo.disabled),
			gated: gatedValue(repo.gated),
			downloads: repo.downloads,
			likes: repo.likes,
			...(model && repo.libraryName !== null ? { library_name: repo.libraryName } : {}),
			...(model && repo.pipelineTag !== null ? { pipeline_tag: repo.pipelineTag } : {}),
			tags: this.tags(repo),
			...(model && repo.config != null ? { config: repo.config } : {}),
			cardData: repo.cardData,
			siblings: [...commit.files.keys()].map((p) => ({ rfilename: p })),
			...(model ? { spaces: [] } : {}),
			...(model && repo.safetensors != null ? { safetensors: repo.safetensors } : {}),
			usedStorage: [...commit.files.values()].reduce((s, f) => s + f.size, 0),
			...(lineage && this.#statesBaseModels
				? { baseModels: { relation: lineage.relation, models: lineage.ids.map((id) => ({ _id: this.find(id)?.objectId ?? objectIdOf(id), id })) } }
				: {}),
			...(model ? { childrenModelCount: this.childrenCount(repo) } : {}),
			downloadsAllTime: repo.downloads,
			trendingScore: 0,
		};
	}

	/**
	 * The repo info at `commit`: without `expand` the default payload; with it exactly `_id`, `id`
	 * and the properties asked for that the repo has (a model without base models has no
	 * `baseModels`). The values must be in EXPAND[repo.type].
	 */
	info(repo, commit, expand = []) {
		const record = this.#record(repo, commit);
		return expand.length === 0 ? pick(record, INFO_KEYS) : pick(record, ["_id", "id", ...new Set(expand)]);
	}

	/** One listing item: the Hub's default keys, in its order; cardData and full=true add more. */
	listingItem(repo, { withCard, full }) {
		const record = { ...this.#record(repo, repo.git.main), createdAt: this.listedCreatedAt(repo) };
		const item = pick(record, LISTING_KEYS);
		if (full) Object.assign(item, pick(record, FULL_LISTING_KEYS));
		if (withCard || full) item.cardData = repo.cardData;
		return item;
	}
}
