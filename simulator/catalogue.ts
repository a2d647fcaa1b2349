/**
 * What the simulated EKS offers: Kubernetes minors, EKS optimized AMI releases, platform
 * versions, add-on versions with their compatibilities, and the deprecated APIs each minor
 * removes. Values are modelled on real EKS releases of 2025; they are a fixed table so that
 * tests and demos can name them.
 *
 * Design rule for add-ons: every version that is the default for a minor is also compatible
 * with the next minor, as on real EKS in practice, so a control-plane upgrade never leaves an
 * installed default add-on incompatible before the add-on step runs.
 */
import { compareAddonVersions } from '../domain/versions';

/** Compares "1.29" with "1.31": negative, zero or positive. */
export function compareMinor(a: string, b: string): number {
  const [am = 0, an = 0] = a.split('.').map(Number);
  const [bm = 0, bn = 0] = b.split('.').map(Number);
  return am === bm ? an - bn : am - bm;
}

/** "v1.31.2-eks-a737599" or "1.31.4-20250123" → "1.31"; undefined when it is not a version. */
export function toMinor(version: string): string | undefined {
  const match = /^v?(\d+)\.(\d+)(?:[.+-].*)?$/.exec(version.trim());
  return match ? `${match[1]}.${match[2]}` : undefined;
}

/** True for a string that is exactly a minor version as EKS names it ("1.31"). */
export function isMinorString(version: string): boolean {
  return /^\d+\.\d+$/.test(version);
}

/** The minor after or before `minor` by `delta` ("1.30", 1 → "1.31"). */
export function shiftMinor(minor: string, delta: number): string {
  const [major = 1, n = 0] = minor.split('.').map(Number);
  return `${major}.${n + delta}`;
}

/** Kubernetes minors the simulator runs and upgrades to, oldest first. */
export const SIM_MINORS: readonly string[] = ['1.28', '1.29', '1.30', '1.31', '1.32', '1.33'];

/** EKS optimized AMI release versions per minor, oldest first; the last is the "recommended" (latest). */
export const AMI_RELEASES: Readonly<Record<string, readonly string[]>> = {
  '1.28': ['1.28.15-20250116', '1.28.15-20250212', '1.28.15-20250304'],
  '1.29': ['1.29.12-20250116', '1.29.13-20250212', '1.29.13-20250304'],
  '1.30': ['1.30.8-20250116', '1.30.9-20250212', '1.30.9-20250304'],
  '1.31': ['1.31.4-20250123', '1.31.5-20250212', '1.31.5-20250304'],
  '1.32': ['1.32.0-20250123', '1.32.1-20250212', '1.32.1-20250304'],
  '1.33': ['1.33.0-20250519', '1.33.1-20250610', '1.33.1-20250704'],
};

/**
 * Minors older than {@link SIM_MINORS} that a fleet may still run (EKS extended support): the
 * simulator serves clusters and node groups at them, with a few AMI releases each, but upgrades
 * only to {@link SIM_MINORS}.
 */
export const OLDER_MINORS: readonly string[] = ['1.23', '1.24', '1.25', '1.26', '1.27'];

const OLDER_RELEASES: Readonly<Record<string, readonly string[]>> = {
  '1.23': ['1.23.17-20240531', '1.23.17-20241024'],
  '1.24': ['1.24.17-20240531', '1.24.17-20241024'],
  '1.25': ['1.25.16-20240531', '1.25.16-20241024'],
  '1.26': ['1.26.15-20240531', '1.26.15-20241024'],
  '1.27': ['1.27.16-20240531', '1.27.16-20241024'],
};

/** AMI releases of any minor the simulator can run, oldest first (empty for unknown minors). */
export function amiReleasesOf(minor: string): readonly string[] {
  return AMI_RELEASES[minor] ?? OLDER_RELEASES[minor] ?? [];
}

/** True for a minor a cluster or node group may run in the simulator (older ones included). */
export function isRunnableMinor(minor: string): boolean {
  return SIM_MINORS.includes(minor) || OLDER_MINORS.includes(minor);
}

/** Amazon Linux 2 AMIs end with Kubernetes 1.32: later minors publish only the AL2023 SSM parameters. */
export const LAST_AL2_MINOR = '1.32';

/** EKS platform version of each minor's control plane. */
export const PLATFORM_VERSIONS: Readonly<Record<string, string>> = {
  '1.23': 'eks.24',
  '1.24': 'eks.27',
  '1.25': 'eks.33',
  '1.26': 'eks.36',
  '1.27': 'eks.40',
  '1.28': 'eks.39',
  '1.29': 'eks.32',
  '1.30': 'eks.28',
  '1.31': 'eks.21',
  '1.32': 'eks.10',
  '1.33': 'eks.4',
};

/** One row of AWS's Kubernetes release calendar for EKS (dates are UTC days, `YYYY-MM-DD`). */
export interface VersionCalendarEntry {
  minor: string;
  upstreamRelease: string;
  eksRelease: string;
  endOfStandardSupport: string;
  endOfExtendedSupport: string;
}

/**
 * "Amazon EKS Kubernetes release calendar" in "Understand the Kubernetes version lifecycle on EKS"
 * (docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html#kubernetes-release-calendar):
 * rows 1.27–1.33 as the page lists them now, rows 1.23–1.26 as it listed them in April 2024
 * (awsdocs/amazon-eks-user-guide, doc_source/kubernetes-versions.md) before they were dropped.
 * DescribeClusterVersions answers from this table, one place for every minor the simulator runs;
 * the support status is the simulated clock against these dates.
 */
export const VERSION_CALENDAR: readonly VersionCalendarEntry[] = [
  {
    minor: '1.33',
    upstreamRelease: '2025-04-23',
    eksRelease: '2025-05-29',
    endOfStandardSupport: '2026-07-29',
    endOfExtendedSupport: '2027-07-29',
  },
  {
    minor: '1.32',
    upstreamRelease: '2024-12-11',
    eksRelease: '2025-01-23',
    endOfStandardSupport: '2026-03-23',
    endOfExtendedSupport: '2027-03-23',
  },
  {
    minor: '1.31',
    upstreamRelease: '2024-08-13',
    eksRelease: '2024-09-26',
    endOfStandardSupport: '2025-11-26',
    endOfExtendedSupport: '2026-11-26',
  },
  {
    minor: '1.30',
    upstreamRelease: '2024-04-17',
    eksRelease: '2024-05-23',
    endOfStandardSupport: '2025-07-23',
    endOfExtendedSupport: '2026-07-23',
  },
  {
    minor: '1.29',
    upstreamRelease: '2023-12-13',
    eksRelease: '2024-01-23',
    endOfStandardSupport: '2025-03-23',
    endOfExtendedSupport: '2026-03-23',
  },
  {
    minor: '1.28',
    upstreamRelease: '2023-08-15',
    eksRelease: '2023-09-26',
    endOfStandardSupport: '2024-11-26',
    endOfExtendedSupport: '2025-11-26',
  },
  {
    minor: '1.27',
    upstreamRelease: '2023-04-11',
    eksRelease: '2023-05-24',
    endOfStandardSupport: '2024-07-24',
    endOfExtendedSupport: '2025-07-24',
  },
  {
    minor: '1.26',
    upstreamRelease: '2022-12-09',
    eksRelease: '2023-04-11',
    endOfStandardSupport: '2024-06-11',
    endOfExtendedSupport: '2025-06-11',
  },
  {
    minor: '1.25',
    upstreamRelease: '2022-08-23',
    eksRelease: '2023-02-22',
    endOfStandardSupport: '2024-05-01',
    endOfExtendedSupport: '2025-05-01',
  },
  {
    minor: '1.24',
    upstreamRelease: '2022-05-03',
    eksRelease: '2022-11-15',
    endOfStandardSupport: '2024-01-31',
    endOfExtendedSupport: '2025-01-31',
  },
  {
    minor: '1.23',
    upstreamRelease: '2021-12-07',
    eksRelease: '2022-08-11',
    endOfStandardSupport: '2023-10-11',
    endOfExtendedSupport: '2024-10-11',
  },
];

export type VersionSupport = 'STANDARD_SUPPORT' | 'EXTENDED_SUPPORT' | 'UNSUPPORTED';

/**
 * A minor's support status at `now` (epoch ms). Standard support ends, and extended support
 * begins, at the start of the end-of-standard-support day (UTC), when extended-support billing
 * starts per the calendar's note; extended support ends at the start of its end day.
 */
export function versionSupportAt(entry: VersionCalendarEntry, now: number): VersionSupport {
  if (now < Date.parse(`${entry.endOfStandardSupport}T00:00:00Z`)) return 'STANDARD_SUPPORT';
  if (now < Date.parse(`${entry.endOfExtendedSupport}T00:00:00Z`)) return 'EXTENDED_SUPPORT';
  return 'UNSUPPORTED';
}

/** The Kubernetes patch version the control plane of a minor serves (`/version`). */
export const CONTROL_PLANE_PATCH: Readonly<Record<string, string>> = {
  '1.23': '1.23.17',
  '1.24': '1.24.17',
  '1.25': '1.25.16',
  '1.26': '1.26.15',
  '1.27': '1.27.16',
  '1.28': '1.28.15',
  '1.29': '1.29.13',
  '1.30': '1.30.9',
  '1.31': '1.31.5',
  '1.32': '1.32.1',
  '1.33': '1.33.1',
};

export interface AddonVersionEntry {
  version: string;
  /** Cluster minors this version runs on. */
  compatible: readonly string[];
  /** Minors for which EKS installs this version by default (exactly one version per minor). */
  defaultFor: readonly string[];
}

export interface AddonCatalogueEntry {
  name: string;
  /** DescribeAddonVersions `type`. */
  type: string;
  /** Oldest first. */
  versions: readonly AddonVersionEntry[];
}

function range(from: string, to: string): string[] {
  return SIM_MINORS.filter((m) => compareMinor(m, from) >= 0 && compareMinor(m, to) <= 0);
}

function kubeProxyVersions(): AddonVersionEntry[] {
  const table: [string, string, string][] = [
    ['1.28', 'v1.28.12-eksbuild.2', 'v1.28.15-eksbuild.4'],
    ['1.29', 'v1.29.10-eksbuild.3', 'v1.29.13-eksbuild.3'],
    ['1.30', 'v1.30.6-eksbuild.3', 'v1.30.9-eksbuild.3'],
    ['1.31', 'v1.31.2-eksbuild.3', 'v1.31.3-eksbuild.2'],
    ['1.32', 'v1.32.0-eksbuild.2', 'v1.32.3-eksbuild.7'],
    ['1.33', 'v1.33.0-eksbuild.1', 'v1.33.0-eksbuild.2'],
  ];
  const out: AddonVersionEntry[] = [];
  for (const [minor, older, current] of table) {
    const next = SIM_MINORS[SIM_MINORS.indexOf(minor) + 1];
    // kube-proxy may lag the API server (skew policy): each build also runs on the next minor.
    const compatible = next ? [minor, next] : [minor];
    out.push({ version: older, compatible, defaultFor: [] });
    out.push({ version: current, compatible, defaultFor: [minor] });
  }
  return out;
}

/** Add-ons, their versions and compatibilities (DescribeAddonVersions). */
export const ADDONS: readonly AddonCatalogueEntry[] = [
  {
    name: 'vpc-cni',
    type: 'networking',
    versions: [
      { version: 'v1.16.4-eksbuild.2', compatible: range('1.28', '1.29'), defaultFor: [] },
      { version: 'v1.18.3-eksbuild.3', compatible: range('1.28', '1.31'), defaultFor: ['1.28', '1.29'] },
      { version: 'v1.19.2-eksbuild.1', compatible: range('1.28', '1.33'), defaultFor: ['1.30', '1.31', '1.32'] },
      { version: 'v1.19.5-eksbuild.3', compatible: range('1.29', '1.33'), defaultFor: ['1.33'] },
    ],
  },
  {
    name: 'coredns',
    type: 'networking',
    versions: [
      { version: 'v1.10.1-eksbuild.13', compatible: range('1.28', '1.29'), defaultFor: ['1.28'] },
      { version: 'v1.11.1-eksbuild.9', compatible: range('1.29', '1.30'), defaultFor: ['1.29'] },
      { version: 'v1.11.3-eksbuild.1', compatible: range('1.29', '1.32'), defaultFor: ['1.30', '1.31'] },
      { version: 'v1.11.4-eksbuild.2', compatible: range('1.29', '1.33'), defaultFor: ['1.32'] },
      { version: 'v1.12.1-eksbuild.2', compatible: range('1.32', '1.33'), defaultFor: ['1.33'] },
    ],
  },
  { name: 'kube-proxy', type: 'networking', versions: kubeProxyVersions() },
  {
    name: 'aws-ebs-csi-driver',
    type: 'storage',
    versions: [
      { version: 'v1.30.0-eksbuild.1', compatible: range('1.28', '1.30'), defaultFor: [] },
      { version: 'v1.35.0-eksbuild.1', compatible: range('1.28', '1.31'), defaultFor: ['1.28', '1.29'] },
      { version: 'v1.38.1-eksbuild.2', compatible: range('1.28', '1.32'), defaultFor: ['1.30', '1.31'] },
      { version: 'v1.41.0-eksbuild.1', compatible: range('1.28', '1.33'), defaultFor: ['1.32', '1.33'] },
    ],
  },
];

const ADDON_BY_NAME = new Map(ADDONS.map((a) => [a.name, a]));

/**
 * The add-on catalogue one simulator serves: the table above plus the versions its fleet file
 * installs that the table does not list (a fleet may run "v1.18.1-eksbuild.3"). A learned
 * version is compatible with the minor of each cluster that runs it and the minor after, is
 * never a default, and appears in DescribeAddonVersions — so that an add-on can always be rolled
 * back to the version it ran before.
 */
export class AddonCatalogue {
  private readonly learned = new Map<string, Map<string, Set<string>>>();
  private merged = new Map<string, AddonCatalogueEntry>();

  /** Records an installed version, if the table does not know it. */
  learn(name: string, version: string, minor: string): void {
    if (ADDON_BY_NAME.get(name)?.versions.some((v) => v.version === version)) return;
    let versions = this.learned.get(name);
    if (!versions) this.learned.set(name, (versions = new Map()));
    let minors = versions.get(version);
    if (!minors) versions.set(version, (minors = new Set()));
    minors.add(minor);
    minors.add(shiftMinor(minor, 1));
    this.merged.delete(name);
  }

  /** Every add-on, table and learned, versions oldest first. */
  all(): AddonCatalogueEntry[] {
    const names = new Set([...ADDON_BY_NAME.keys(), ...this.learned.keys()]);
    return [...names].map((n) => this.entry(n) as AddonCatalogueEntry);
  }

  entry(name: string): AddonCatalogueEntry | undefined {
    const cached = this.merged.get(name);
    if (cached) return cached;
    const table = ADDON_BY_NAME.get(name);
    const learned = this.learned.get(name);
    if (!learned) return table;
    const extra: AddonVersionEntry[] = [...learned].map(([version, minors]) => ({
      version,
      compatible: [...minors].sort(compareMinor),
      defaultFor: [],
    }));
    const entry: AddonCatalogueEntry = {
      name,
      type: table?.type ?? 'other',
      versions: [...(table?.versions ?? []), ...extra].sort((a, b) => compareAddonVersions(a.version, b.version)),
    };
    this.merged.set(name, entry);
    return entry;
  }

  versionEntry(name: string, version: string): AddonVersionEntry | undefined {
    return this.entry(name)?.versions.find((v) => v.version === version);
  }

  compatible(name: string, version: string, minor: string): boolean {
    return this.versionEntry(name, version)?.compatible.includes(minor) ?? false;
  }
}

/** The catalogue entry of an add-on, if the simulator knows it. */
export function addonEntry(name: string): AddonCatalogueEntry | undefined {
  return ADDON_BY_NAME.get(name);
}

/** The version entry of an add-on version, if catalogued. */
export function addonVersionEntry(name: string, version: string): AddonVersionEntry | undefined {
  return ADDON_BY_NAME.get(name)?.versions.find((v) => v.version === version);
}

/** True when the catalogue lists `version` of `name` as compatible with `minor`. */
export function addonCompatible(name: string, version: string, minor: string): boolean {
  return addonVersionEntry(name, version)?.compatible.includes(minor) ?? false;
}

/** EKS's default version of an add-on for a minor. */
export function defaultAddonVersion(name: string, minor: string): string | undefined {
  return ADDON_BY_NAME.get(name)?.versions.find((v) => v.defaultFor.includes(minor))?.version;
}

/** True for a minor the simulator can run. */
export function isSimMinor(minor: string): boolean {
  return SIM_MINORS.includes(minor);
}

/** The newest AMI release of a minor. */
export function latestRelease(minor: string): string | undefined {
  const list = amiReleasesOf(minor);
  return list[list.length - 1];
}

/** The oldest AMI release of a minor: what a node group declared without `releaseVersion` runs. */
export function oldestRelease(minor: string): string | undefined {
  return amiReleasesOf(minor)[0];
}

/** The minor of an AMI release version ("1.31.4-20250123" → "1.31"). */
export function releaseMinor(release: string): string | undefined {
  return toMinor(release);
}

/** Orders AMI releases: by Kubernetes version parts, then by build date. */
export function compareReleases(a: string, b: string): number {
  return compareAddonVersions(a, b);
}

/** The Kubernetes patch version inside an AMI release ("1.31.4-20250123" → "1.31.4"). */
export function releaseKubernetesVersion(release: string): string {
  return release.split('-')[0] ?? release;
}

/** A deprecated API that a minor stops serving, as EKS upgrade insights report it. */
export interface DeprecatedApi {
  usage: string;
  replacedWith: string;
  startServingReplacementVersion: string;
  /** True when the API is a stand-in: the minor removes no API that clusters typically use. */
  illustrative: boolean;
}

/**
 * What an `insightsError` fault reports for each target minor: the real removals where a
 * minor has one (flowcontrol v1beta2 in 1.29, v1beta3 in 1.32), a clearly named stand-in elsewhere.
 */
export function deprecatedApiRemovedIn(minor: string): DeprecatedApi {
  if (minor === '1.29') {
    return {
      usage: '/apis/flowcontrol.apiserver.k8s.io/v1beta2/flowschemas',
      replacedWith: '/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas',
      startServingReplacementVersion: '1.26',
      illustrative: false,
    };
  }
  if (minor === '1.32') {
    return {
      usage: '/apis/flowcontrol.apiserver.k8s.io/v1beta3/prioritylevelconfigurations',
      replacedWith: '/apis/flowcontrol.apiserver.k8s.io/v1/prioritylevelconfigurations',
      startServingReplacementVersion: '1.29',
      illustrative: false,
    };
  }
  return {
    usage: '/apis/simulated.fleetwave.io/v1beta1/widgets',
    replacedWith: '/apis/simulated.fleetwave.io/v1/widgets',
    startServingReplacementVersion: '1.28',
    illustrative: true,
  };
}

/** Simulated update durations (simulated milliseconds), before a cluster's `slowFactor`. */
export const DURATIONS = {
  controlPlaneMinMs: 10 * 60_000,
  controlPlaneMaxMs: 25 * 60_000,
  rollbackMinMs: 10 * 60_000,
  rollbackMaxMs: 20 * 60_000,
  /** Share of a control-plane rollback during which CancelUpdate still succeeds. */
  rollbackCancellableShare: 0.2,
  nodegroupSetupMinMs: 60_000,
  nodegroupSetupMaxMs: 2 * 60_000,
  /** Launching the surge nodes of one batch until they are Ready. */
  batchLaunchMinMs: 2 * 60_000,
  batchLaunchMaxMs: 4 * 60_000,
  /** Cordon, drain and terminate the old nodes of one batch. */
  batchDrainMinMs: 60_000,
  batchDrainMaxMs: 3 * 60_000,
  /** EKS gives up evicting a pod after 15 minutes: PodEvictionFailure. */
  drainTimeoutMs: 15 * 60_000,
  /** Instances that never join the cluster: NodeCreationFailure after this long. */
  nodeJoinTimeoutMs: 12 * 60_000,
  addonMinMs: 40_000,
  addonMaxMs: 90_000,
  configMinMs: 30_000,
  configMaxMs: 60_000,
  /** A control-plane upgrade can be rolled back to the previous minor within this window. */
  rollbackWindowMs: 7 * 24 * 3600_000,
  /** A crash-looping container restarts about this often (CrashLoopBackOff caps at 5 minutes). */
  crashLoopPeriodMs: 5 * 60_000,
} as const;
