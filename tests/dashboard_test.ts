/**
 * The Grafana dashboard (`grafana/dashboard.json`) and the chart's copy of it. Grafana is not
 * installed here, so nothing is rendered: the JSON's shape is checked, and every series its
 * expressions name is checked against what `/metrics` really exports, built with `createMetrics`
 * over the fake source the metrics unit tests use.
 * @module
 */

import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { createMetrics } from "../src/metrics/metrics.ts";
import { fakeSource, parse, site } from "../src/metrics/test_support.ts";

const DASHBOARD = new URL("../grafana/dashboard.json", import.meta.url);
const CHART = new URL("../charts/s3sync-service/", import.meta.url);
const CHART_COPY = new URL("dashboards/s3sync.json", CHART);
const TEMPLATE = new URL("templates/grafana-dashboard.yaml", CHART);
const VALUES = new URL("values.yaml", CHART);

/** Labels Prometheus adds to every series it scrapes, whatever the target exports. */
const TARGET_LABELS = new Set(["instance", "job"]);

/** PromQL functions and aggregations the dashboard may call; anything else is a typo. */
const FUNCTIONS = new Set([
  "abs",
  "avg",
  "avg_over_time",
  "clamp_min",
  "count",
  "delta",
  "deriv",
  "histogram_quantile",
  "increase",
  "irate",
  "max",
  "max_over_time",
  "min",
  "min_over_time",
  "rate",
  "sum",
  "time",
  "topk",
  "vector",
]);

/** PromQL words that look like identifiers but are not series. */
const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "inf", "nan"]);

interface Target {
  readonly expr?: string;
  readonly refId?: string;
  readonly datasource?: { readonly uid?: string };
}

interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly gridPos: {
    readonly h: number;
    readonly w: number;
    readonly x: number;
    readonly y: number;
  };
  readonly datasource?: { readonly type?: string; readonly uid?: string };
  readonly targets?: readonly Target[];
  readonly panels?: readonly Panel[];
}

interface Variable {
  readonly name: string;
  readonly type: string;
  readonly query: string | { readonly query: string };
  readonly definition?: string;
  readonly multi?: boolean;
  readonly includeAll?: boolean;
}

interface Dashboard {
  readonly title: string;
  readonly uid: string;
  readonly schemaVersion: number;
  readonly panels: readonly Panel[];
  readonly templating: { readonly list: readonly Variable[] };
}

async function loadDashboard(): Promise<Dashboard> {
  return JSON.parse(await Deno.readTextFile(DASHBOARD)) as Dashboard;
}

/** Every panel, rows' collapsed children included. */
function allPanels(dashboard: Dashboard): Panel[] {
  return dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

function allExprs(dashboard: Dashboard): { panel: string; expr: string }[] {
  return allPanels(dashboard).flatMap((p) =>
    (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr ?? "" }))
  );
}

/** Series names, labels per series, as a Prometheus server scraping `/metrics` would see them. */
async function exported(): Promise<Map<string, Set<string>>> {
  const { types, samples } = parse(await createMetrics(fakeSource([site("photos")]).source).text());
  const series = new Map<string, Set<string>>();
  const add = (name: string, labels: Iterable<string>) => {
    const known = series.get(name) ?? new Set<string>();
    for (const label of labels) known.add(label);
    series.set(name, known);
  };
  for (const [name, type] of types) {
    add(name, []);
    if (type === "histogram") {
      for (const suffix of ["_bucket", "_sum", "_count"]) add(name + suffix, []);
    }
  }
  for (const sample of samples) add(sample.name, Object.keys(sample.labels));
  return series;
}

/**
 * What one PromQL expression reads: the series it names (every identifier that is not a call, a
 * keyword, a label or a duration), each selector's label matchers, and the labels of `by (...)`.
 */
function analyse(expr: string): {
  series: string[];
  calls: string[];
  selectors: { name: string; matchers: Map<string, string> }[];
  grouping: string[];
} {
  const selectors = [...expr.matchAll(/([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}/g)].map((m) => ({
    name: m[1] ?? "",
    matchers: new Map(
      [...(m[2] ?? "").matchAll(/(\w+)\s*(?:=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)].map((
        l,
      ) => [l[1] ?? "", l[2] ?? ""]),
    ),
  }));
  const grouping = [
    ...expr.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g),
  ].flatMap((m) => (m[1] ?? "").split(",").map((l) => l.trim()).filter((l) => l !== ""));
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const series: string[] = [];
  const calls: string[] = [];
  for (const m of bare.matchAll(/(?<![\w:.$])([a-zA-Z_:][\w:]*)(\s*\()?/g)) {
    const word = m[1] ?? "";
    if (m[2]) calls.push(word);
    else if (!KEYWORDS.has(word.toLowerCase())) series.push(word);
  }
  return { series, calls, selectors, grouping };
}

Deno.test("analyse() finds series, calls, matchers and grouping labels in PromQL", () => {
  const found = analyse(
    'histogram_quantile(0.99, sum by (site, le) (rate(a_bucket{site=~"$site"}[5m]))) ' +
      "and time() - b_seconds > 1e3",
  );
  assert.deepEqual(found.series, ["a_bucket", "b_seconds"]);
  assert.deepEqual(found.calls, ["histogram_quantile", "sum", "rate", "time"]);
  assert.deepEqual(found.selectors, [{ name: "a_bucket", matchers: new Map([["site", "$site"]]) }]);
  assert.deepEqual(found.grouping, ["site", "le"]);
});

Deno.test("grafana/dashboard.json has the shape Grafana loads: unique ids, grid, targets", async () => {
  const dashboard = await loadDashboard();
  assert.equal(typeof dashboard.title, "string");
  assert.ok(dashboard.title.length > 0);
  assert.match(dashboard.uid, /^[\w-]{1,40}$/);
  assert.ok(dashboard.schemaVersion >= 36 && dashboard.schemaVersion <= 41, "schemaVersion");
  const panels = allPanels(dashboard);
  assert.ok(panels.length > 0);
  const ids = panels.map((p) => p.id);
  assert.ok(ids.every(Number.isInteger), "integer ids");
  assert.equal(new Set(ids).size, ids.length, "unique ids");
  for (const p of panels) {
    const { h, w, x, y } = p.gridPos;
    assert.ok([h, w, x, y].every(Number.isInteger), `${p.title}: gridPos`);
    assert.ok(w > 0 && h > 0 && x >= 0 && y >= 0 && x + w <= 24, `${p.title}: inside the grid`);
    assert.equal(typeof p.title, "string");
    if (p.type === "row") continue;
    const targets = p.targets ?? [];
    assert.ok(targets.length > 0, `${p.title}: has targets`);
    for (const t of targets) assert.ok(t.expr && t.expr.trim() !== "", `${p.title}: target expr`);
    const refIds = targets.map((t) => t.refId);
    assert.equal(new Set(refIds).size, refIds.length, `${p.title}: unique refIds`);
    assert.equal(p.datasource?.uid, "${datasource}", `${p.title}: uses the datasource variable`);
  }
  // No two panels overlap: Grafana would move one, and the layout would not be the one written.
  const top = dashboard.panels;
  for (const [i, a] of top.entries()) {
    for (const b of top.slice(i + 1)) {
      const apart = a.gridPos.x + a.gridPos.w <= b.gridPos.x ||
        b.gridPos.x + b.gridPos.w <= a.gridPos.x ||
        a.gridPos.y + a.gridPos.h <= b.gridPos.y || b.gridPos.y + b.gridPos.h <= a.gridPos.y;
      assert.ok(apart, `"${a.title}" overlaps "${b.title}"`);
    }
  }
});

Deno.test("grafana/dashboard.json has a Prometheus datasource and multi-select site variable", async () => {
  const dashboard = await loadDashboard();
  const vars = new Map(dashboard.templating.list.map((v) => [v.name, v]));
  const datasource = vars.get("datasource");
  assert.equal(datasource?.type, "datasource");
  assert.equal(datasource?.query, "prometheus");
  const siteVar = vars.get("site");
  assert.equal(siteVar?.type, "query");
  assert.equal(siteVar?.multi, true);
  assert.equal(siteVar?.includeAll, true);
  const query = typeof siteVar?.query === "string" ? siteVar.query : siteVar?.query.query;
  assert.match(query ?? "", /^label_values\(s3sync_queue_length(\{[^}]*\})?, site\)$/);
  // Every variable an expression uses is defined.
  for (const { panel, expr } of allExprs(dashboard)) {
    for (const [, name] of expr.matchAll(/\$\{?(\w+)/g)) {
      if (name?.startsWith("__")) continue; // Grafana's own, such as $__rate_interval
      assert.ok(vars.has(name ?? ""), `${panel}: undefined variable $${name}`);
    }
  }
});

Deno.test("grafana/dashboard.json names only series and labels that /metrics exports", async () => {
  const dashboard = await loadDashboard();
  const series = await exported();
  const used = new Set<string>();
  const labelsOf = (name: string) => series.get(name) ?? new Set<string>();
  for (const { panel, expr } of allExprs(dashboard)) {
    const found = analyse(expr);
    assert.ok(found.series.length > 0, `${panel}: "${expr}" reads no series`);
    for (const name of found.series) {
      assert.ok(series.has(name), `${panel}: "${name}" is not exported by /metrics`);
      used.add(name);
    }
    for (const call of found.calls) {
      assert.ok(FUNCTIONS.has(call), `${panel}: unknown function "${call}" in "${expr}"`);
    }
    for (const { name, matchers } of found.selectors) {
      for (const label of matchers.keys()) {
        assert.ok(
          labelsOf(name).has(label) || TARGET_LABELS.has(label),
          `${panel}: "${name}" has no label "${label}"`,
        );
      }
      // Per site: a series that has a site label is always filtered by the site variable.
      if (labelsOf(name).has("site")) {
        assert.equal(matchers.get("site"), "$site", `${panel}: "${name}" not filtered by $site`);
      }
    }
    const available = new Set([...TARGET_LABELS, ...found.series.flatMap((n) => [...labelsOf(n)])]);
    for (const label of found.grouping) {
      assert.ok(available.has(label), `${panel}: grouping by "${label}", which no series has`);
    }
  }
  // Variable queries name exported series and labels too.
  for (const v of dashboard.templating.list.filter((v) => v.type === "query")) {
    const query = typeof v.query === "string" ? v.query : v.query.query;
    const m = /^label_values\(([a-zA-Z_:][\w:]*)(?:\{[^}]*\})?, *(\w+)\)$/.exec(query);
    assert.ok(m, `variable ${v.name}: expected label_values(series, label), got "${query}"`);
    const [, name = "", label = ""] = m;
    assert.ok(series.has(name), `variable ${v.name}: "${name}" is not exported`);
    assert.ok(
      labelsOf(name).has(label) || TARGET_LABELS.has(label),
      `variable ${v.name}: ${label}`,
    );
  }
  // What the issue asks the dashboard to show.
  for (
    const name of [
      "s3sync_queue_length",
      "s3sync_in_flight",
      "s3sync_uploads_total",
      "s3sync_uploaded_bytes_total",
      "s3sync_upload_duration_seconds_bucket",
      "s3sync_errors_count",
      "s3sync_parked_jobs",
      "s3sync_failed_jobs_total",
      "s3sync_last_reconcile_timestamp_seconds",
      "s3sync_config_reloads_total",
      "s3sync_config_error",
      "s3sync_upload_concurrency",
      "s3sync_upload_concurrency_changes_total",
      "s3sync_data_objects_count",
      "s3sync_data_total_size",
      "process_resident_memory_bytes",
      "nodejs_eventloop_lag_seconds",
    ]
  ) {
    assert.ok(used.has(name), `the dashboard does not chart ${name}`);
  }
});

Deno.test("the chart's copy of the dashboard equals grafana/dashboard.json", async () => {
  assert.equal(
    await Deno.readTextFile(CHART_COPY),
    await Deno.readTextFile(DASHBOARD),
    "copy grafana/dashboard.json to charts/s3sync-service/dashboards/s3sync.json",
  );
});

Deno.test("the chart installs the dashboard as a labelled ConfigMap only when enabled", async () => {
  const template = await Deno.readTextFile(TEMPLATE);
  assert.match(template, /^\{\{- if \.Values\.grafanaDashboard\.enabled \}\}$/m);
  assert.match(template, /^kind: ConfigMap$/m);
  assert.match(template, /\.Files\.Get "dashboards\/s3sync\.json"/);
  assert.match(
    template,
    /\{\{ \.Values\.grafanaDashboard\.label \| quote \}\}: \{\{ \.Values\.grafanaDashboard\.labelValue \| quote \}\}/,
  );
  const values = parseYaml(await Deno.readTextFile(VALUES)) as {
    grafanaDashboard?: Record<string, unknown>;
  };
  assert.deepEqual(values.grafanaDashboard, {
    enabled: false,
    label: "grafana_dashboard",
    labelValue: "1",
    labels: {},
    annotations: {},
    namespace: "",
  });
  // Every value the template reads is declared, so `helm install` shows no surprise nil.
  for (const [, key] of template.matchAll(/\.Values\.grafanaDashboard\.(\w+)/g)) {
    assert.ok(key && key in (values.grafanaDashboard ?? {}), `grafanaDashboard.${key} in values`);
  }
});
