/**
 * What `fleetwave discover --diff FILE` shows: clusters AWS has that the file lacks, clusters the
 * file names that AWS no longer shows, and field changes of the rest. Only what discovery can see is
 * compared (region, account, labels, versions, platform version, Auto Mode, node groups, add-ons,
 * Fargate profiles by name, self-managed groups' names and sizes); what only the file can say
 * (PDBs, faults, Karpenter, NodePools, `managedBy`, `roleArn`) is not a difference, nor is an AMI
 * release, launch template or platform version the file leaves out.
 */
import type { ClusterInventory, Fleet } from '../domain/fleet';

export interface FieldChange {
  /** `nodegroups[system].version`, `labels.env`, `addons[vpc-cni]`. */
  path: string;
  /** Absent: the file lacks it. */
  file?: unknown;
  /** Absent: AWS does not show it. */
  discovered?: unknown;
}

export interface FleetDiff {
  /** In AWS, not in the file. */
  added: string[];
  /** In the file, not in AWS (or in an account or region that was not listed). */
  removed: string[];
  changed: { cluster: string; changes: FieldChange[] }[];
  unchanged: number;
}

/** The comparable fields of one cluster, flattened to `path → value`. */
function comparable(c: ClusterInventory): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const set = (path: string, value: unknown) => {
    if (value !== undefined) out.set(path, value);
  };
  set('region', c.region);
  set('account', c.account);
  for (const [k, v] of Object.entries(c.labels)) set(`labels.${k}`, v);
  set('version', c.version);
  set('platformVersion', c.platformVersion);
  set('autoMode', c.autoMode ? true : undefined);
  for (const ng of c.nodegroups) {
    const at = `nodegroups[${ng.name}]`;
    set(at, 'present');
    set(`${at}.version`, ng.version ?? c.version);
    set(`${at}.releaseVersion`, ng.releaseVersion);
    set(`${at}.nodes`, ng.nodes);
    set(`${at}.maxUnavailable`, ng.maxUnavailable);
    set(`${at}.amiType`, ng.amiType ?? (ng.launchTemplate?.imageId ? 'CUSTOM' : 'AL2023_x86_64_STANDARD'));
    set(
      `${at}.launchTemplate`,
      ng.launchTemplate ? `${ng.launchTemplate.name}:${ng.launchTemplate.version}` : undefined,
    );
    set(`${at}.imageId`, ng.launchTemplate?.imageId);
  }
  for (const a of c.addons) set(`addons[${a.name}]`, a.version);
  for (const f of c.fargateProfiles ?? []) set(`fargateProfiles[${f.name}]`, 'present');
  for (const g of c.selfManagedGroups ?? []) set(`selfManagedGroups[${g.name}].nodes`, g.nodes);
  return out;
}

function diffCluster(file: ClusterInventory, discovered: ClusterInventory): FieldChange[] {
  const a = comparable(file);
  const b = comparable(discovered);
  // Optional details a hand-written file often leaves out (platform version, AMI release, launch
  // template) are drift only when the file records them.
  for (const path of b.keys()) {
    if (/(^platformVersion|\.releaseVersion|\.launchTemplate)$/.test(path) && !a.has(path)) b.delete(path);
  }
  const changes: FieldChange[] = [];
  for (const path of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const x = a.get(path);
    const y = b.get(path);
    if (x === y) continue;
    changes.push({ path, ...(x !== undefined ? { file: x } : {}), ...(y !== undefined ? { discovered: y } : {}) });
  }
  return changes;
}

/** The differences between a fleet file and a discovered fleet, by cluster name. */
export function diffFleets(file: Fleet, discovered: Fleet): FleetDiff {
  const inFile = new Map(file.clusters.map((c) => [c.name, c]));
  const found = new Map(discovered.clusters.map((c) => [c.name, c]));
  const diff: FleetDiff = { added: [], removed: [], changed: [], unchanged: 0 };
  for (const [name, c] of found) {
    const old = inFile.get(name);
    if (!old) {
      diff.added.push(name);
      continue;
    }
    const changes = diffCluster(old, c);
    if (changes.length > 0) diff.changed.push({ cluster: name, changes });
    else diff.unchanged += 1;
  }
  for (const name of inFile.keys()) if (!found.has(name)) diff.removed.push(name);
  diff.added.sort();
  diff.removed.sort();
  diff.changed.sort((x, y) => x.cluster.localeCompare(y.cluster));
  return diff;
}

const show = (v: unknown) => (v === undefined ? '(none)' : typeof v === 'string' ? v : JSON.stringify(v));

/** The diff as text: `+ name` added, `- name` removed, `~ name` with one line per field. */
export function renderFleetDiff(diff: FleetDiff, discovered: Fleet): string {
  const lines: string[] = [];
  const byName = new Map(discovered.clusters.map((c) => [c.name, c]));
  for (const name of diff.added) {
    const c = byName.get(name);
    lines.push(`+ ${name}${c ? `  (${c.account} ${c.region}, ${c.version})` : ''}`);
  }
  for (const name of diff.removed) lines.push(`- ${name}  (in the file, not discovered)`);
  for (const { cluster, changes } of diff.changed) {
    lines.push(`~ ${cluster}`);
    for (const ch of changes) lines.push(`    ${ch.path}: ${show(ch.file)} -> ${show(ch.discovered)}`);
  }
  lines.push(
    `${diff.added.length} added, ${diff.removed.length} removed, ${diff.changed.length} changed, ${diff.unchanged} unchanged`,
  );
  return `${lines.join('\n')}\n`;
}
