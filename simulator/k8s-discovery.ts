/**
 * Discovery documents (`/api`, `/api/v1`, `/apis`, `/apis/<group>/<version>`), the unaggregated
 * kind: kubectl and client-go ask for the aggregated `apidiscovery.k8s.io/v2` form first and fall
 * back to these when the answer is a plain APIGroupList (client-go discovery, "Aggregated
 * Discovery" in the Kubernetes API concepts). They list exactly what the simulator serves, with
 * the verbs it answers, so `kubectl api-resources` tells the truth.
 */

interface Resource {
  name: string;
  singularName: string;
  namespaced: boolean;
  kind: string;
  verbs: string[];
  shortNames?: string[];
  categories?: string[];
  group?: string;
  version?: string;
}

export interface GroupVersion {
  group: string;
  version: string;
  resources: Resource[];
}

const READ = ['get', 'list'];

/** Everything served, by group version (`''` is the core group). */
export const SERVED: GroupVersion[] = [
  {
    group: '',
    version: 'v1',
    resources: [
      {
        name: 'namespaces',
        singularName: 'namespace',
        namespaced: false,
        kind: 'Namespace',
        verbs: READ,
        shortNames: ['ns'],
      },
      {
        name: 'nodes',
        singularName: 'node',
        namespaced: false,
        kind: 'Node',
        verbs: ['get', 'list', 'patch', 'watch'],
        shortNames: ['no'],
      },
      {
        name: 'pods',
        singularName: 'pod',
        namespaced: true,
        kind: 'Pod',
        verbs: ['delete', 'get', 'list'],
        shortNames: ['po'],
        categories: ['all'],
      },
      {
        name: 'secrets',
        singularName: 'secret',
        namespaced: true,
        kind: 'Secret',
        verbs: READ,
      },
      {
        name: 'pods/eviction',
        singularName: '',
        namespaced: true,
        kind: 'Eviction',
        group: 'policy',
        version: 'v1',
        verbs: ['create'],
      },
    ],
  },
  {
    group: 'apps',
    version: 'v1',
    resources: [
      {
        name: 'daemonsets',
        singularName: 'daemonset',
        namespaced: true,
        kind: 'DaemonSet',
        verbs: READ,
        shortNames: ['ds'],
        categories: ['all'],
      },
      {
        name: 'deployments',
        singularName: 'deployment',
        namespaced: true,
        kind: 'Deployment',
        verbs: ['get', 'list', 'patch'],
        shortNames: ['deploy'],
        categories: ['all'],
      },
      {
        name: 'statefulsets',
        singularName: 'statefulset',
        namespaced: true,
        kind: 'StatefulSet',
        verbs: READ,
        shortNames: ['sts'],
        categories: ['all'],
      },
    ],
  },
  {
    group: 'coordination.k8s.io',
    version: 'v1',
    resources: [{ name: 'leases', singularName: 'lease', namespaced: true, kind: 'Lease', verbs: READ }],
  },
  {
    group: 'authentication.k8s.io',
    version: 'v1',
    resources: [
      {
        name: 'selfsubjectreviews',
        singularName: 'selfsubjectreview',
        namespaced: false,
        kind: 'SelfSubjectReview',
        verbs: ['create'],
      },
    ],
  },
  {
    group: 'policy',
    version: 'v1',
    resources: [
      {
        name: 'poddisruptionbudgets',
        singularName: 'poddisruptionbudget',
        namespaced: true,
        kind: 'PodDisruptionBudget',
        verbs: READ,
        shortNames: ['pdb'],
      },
    ],
  },
  {
    group: 'metrics.k8s.io',
    version: 'v1beta1',
    resources: [{ name: 'nodes', singularName: '', namespaced: false, kind: 'NodeMetrics', verbs: READ }],
  },
];

/**
 * The custom resources of a cluster with NodePools (k8s-nodepools.ts): Karpenter's CRDs, with the
 * NodeClass kind of Auto Mode or of a self-installed Karpenter.
 */
export function nodePoolGroups(mode: 'auto' | 'karpenter' | undefined): GroupVersion[] {
  if (!mode) return [];
  const categories = ['karpenter'];
  return [
    {
      group: 'karpenter.sh',
      version: 'v1',
      resources: [
        {
          name: 'nodeclaims',
          singularName: 'nodeclaim',
          namespaced: false,
          kind: 'NodeClaim',
          // Deleting a NodeClaim is how users disrupt a Karpenter node by hand.
          verbs: mode === 'karpenter' ? [...READ, 'delete'] : READ,
          categories,
        },
        {
          name: 'nodepools',
          singularName: 'nodepool',
          namespaced: false,
          kind: 'NodePool',
          verbs: ['get', 'list', 'patch', 'update'],
          categories,
        },
      ],
    },
    mode === 'auto'
      ? {
          group: 'eks.amazonaws.com',
          version: 'v1',
          resources: [
            { name: 'nodeclasses', singularName: 'nodeclass', namespaced: false, kind: 'NodeClass', verbs: READ },
          ],
        }
      : {
          group: 'karpenter.k8s.aws',
          version: 'v1',
          resources: [
            {
              name: 'ec2nodeclasses',
              singularName: 'ec2nodeclass',
              namespaced: false,
              kind: 'EC2NodeClass',
              verbs: ['get', 'list', 'patch', 'update'],
              categories,
            },
          ],
        },
  ];
}

/** The discovery document at `path` (segments), or undefined when it is not one. */
export function discovery(s: readonly string[], serverAddress: string, extra: readonly GroupVersion[] = []): unknown {
  const served = extra.length > 0 ? [...SERVED, ...extra] : SERVED;
  if (s.length === 1 && s[0] === 'api') {
    return {
      kind: 'APIVersions',
      versions: ['v1'],
      serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
    };
  }
  if (s.length === 1 && s[0] === 'apis') {
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: served
        .filter((g) => g.group !== '')
        .map((g) => {
          const gv = { groupVersion: `${g.group}/${g.version}`, version: g.version };
          return { name: g.group, versions: [gv], preferredVersion: gv };
        }),
    };
  }
  const gv =
    s.length === 2 && s[0] === 'api'
      ? served.find((g) => g.group === '' && g.version === s[1])
      : s.length === 3 && s[0] === 'apis'
        ? served.find((g) => g.group === s[1] && g.version === s[2])
        : undefined;
  if (s.length === 2 && s[0] === 'apis') {
    const g = served.find((x) => x.group === s[1]);
    if (!g) return undefined;
    const version = { groupVersion: `${g.group}/${g.version}`, version: g.version };
    return { kind: 'APIGroup', apiVersion: 'v1', name: g.group, versions: [version], preferredVersion: version };
  }
  if (!gv) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: gv.group ? `${gv.group}/${gv.version}` : gv.version,
    resources: gv.resources,
  };
}
