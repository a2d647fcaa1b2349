/**
 * EC2 on the simulator's port, in the EC2 Query protocol that @aws-sdk/client-ec2 speaks (a form
 * body `Action=…&Version=2016-11-15`, XML answers in the 2016-11-15 namespace): the launch
 * templates of node groups and the AMIs they name.
 *
 * - DescribeLaunchTemplates (LaunchTemplateId.N, LaunchTemplateName.N, Filter `launch-template-name`)
 * - DescribeLaunchTemplateVersions (one template; versions by number, `$Latest`, `$Default`,
 *   MinVersion/MaxVersion)
 * - CreateLaunchTemplateVersion (SourceVersion, LaunchTemplateData.ImageId, VersionDescription,
 *   ClientToken idempotency)
 * - DescribeImages (ImageId.N, Owner.N `self`/`amazon`/account, Filters `name` with `*`/`?`,
 *   `architecture`, `image-id`, `owner-id`, `tag:<key>`)
 *
 * Sources: Amazon EC2 API Reference, each action's page and "Ensuring idempotency"; error codes
 * from "Error codes for the Amazon EC2 API".
 */
import type { Architecture } from '../domain/node-models';
import { publicAmis, type PublicAmi } from './ami-catalogue';
import type { AwsResponse } from './aws-misc';
import type { Ec2State, SimImage, SimLaunchTemplate, LaunchTemplateVersion } from './model';
import { uuidOf } from './random';

const NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';
/** The owner ID of the public EKS optimized AMIs (Amazon's, as DescribeImages shows it). */
const AMAZON_OWNER = '602401143452';

const esc = (v: string) =>
  v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
const iso = (ms: number) => new Date(ms).toISOString();

class Ec2Error extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function errorResponse(code: string, message: string, requestId: string): AwsResponse {
  return {
    status: 400,
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${esc(code)}</Code><Message>${esc(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`,
    headers: { 'content-type': 'text/xml;charset=UTF-8' },
  };
}

/** `Prefix.1`, `Prefix.2`, … in index order. */
function list(form: URLSearchParams, prefix: string): string[] {
  const out: [number, string][] = [];
  for (const [k, v] of form) {
    const m = /^(.+)\.(\d+)$/.exec(k);
    if (m && m[1] === prefix) out.push([Number(m[2]), v]);
  }
  return out.sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

/** `Filter.N.Name` / `Filter.N.Value.M`. */
function filters(form: URLSearchParams): { name: string; values: string[] }[] {
  const out: { name: string; values: string[] }[] = [];
  for (let n = 1; form.has(`Filter.${n}.Name`); n++) {
    out.push({ name: form.get(`Filter.${n}.Name`) ?? '', values: list(form, `Filter.${n}.Value`) });
  }
  return out;
}

/** EC2 filter values: `*` any run of characters, `?` one character, case-sensitive. */
function wildcard(pattern: string): RegExp {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`);
}

function renderTemplate(t: SimLaunchTemplate): string {
  return `<item><createTime>${iso(t.createdAt)}</createTime><createdBy>arn:aws:iam::${t.account}:root</createdBy><defaultVersionNumber>${t.defaultVersion}</defaultVersionNumber><latestVersionNumber>${t.latestVersion}</latestVersionNumber><launchTemplateId>${t.id}</launchTemplateId><launchTemplateName>${esc(t.name)}</launchTemplateName></item>`;
}

function renderVersion(t: SimLaunchTemplate, v: LaunchTemplateVersion, tag = 'item'): string {
  const data = v.imageId ? `<imageId>${v.imageId}</imageId>` : '';
  return `<${tag}><createTime>${iso(v.createdAt)}</createTime><createdBy>arn:aws:iam::${t.account}:root</createdBy><defaultVersion>${v.number === t.defaultVersion}</defaultVersion><launchTemplateData>${data}</launchTemplateData><launchTemplateId>${t.id}</launchTemplateId><launchTemplateName>${esc(t.name)}</launchTemplateName>${v.description ? `<versionDescription>${esc(v.description)}</versionDescription>` : ''}<versionNumber>${v.number}</versionNumber></${tag}>`;
}

interface ImageView {
  imageId: string;
  name: string;
  owner: string;
  arch: Architecture;
  createdAt: number;
  public: boolean;
  platform?: 'windows';
  tags: Record<string, string>;
}

function publicView(p: PublicAmi): ImageView {
  const windows = p.amiType.startsWith('WINDOWS_');
  const date = /(\d{4})\.?(\d{2})\.?(\d{2})$/.exec(p.release.replace(/-[0-9a-f]{8}$/, '')) ?? [];
  const createdAt = date[1] ? Date.UTC(Number(date[1]), Number(date[2]) - 1, Number(date[3])) : Date.UTC(2025, 0, 1);
  return {
    imageId: p.imageId,
    name: p.name,
    owner: AMAZON_OWNER,
    arch: p.arch,
    createdAt,
    public: true,
    ...(windows ? { platform: 'windows' as const } : {}),
    tags: {},
  };
}

function customView(i: SimImage): ImageView {
  return {
    imageId: i.imageId,
    name: i.name,
    owner: i.owner,
    arch: i.arch,
    createdAt: i.createdAt,
    public: false,
    tags: i.tags,
  };
}

function renderImage(i: ImageView): string {
  const tags = Object.entries(i.tags)
    .map(([k, v]) => `<item><key>${esc(k)}</key><value>${esc(v)}</value></item>`)
    .join('');
  return `<item><imageId>${i.imageId}</imageId><imageLocation>${i.owner}/${esc(i.name)}</imageLocation><imageState>available</imageState><imageOwnerId>${i.owner}</imageOwnerId><creationDate>${iso(i.createdAt)}</creationDate><isPublic>${i.public}</isPublic><architecture>${i.arch}</architecture><imageType>machine</imageType>${i.platform ? `<platform>${i.platform}</platform>` : ''}<platformDetails>${i.platform ? 'Windows' : 'Linux/UNIX'}</platformDetails><name>${esc(i.name)}</name><rootDeviceType>ebs</rootDeviceType><rootDeviceName>/dev/xvda</rootDeviceName><virtualizationType>hvm</virtualizationType><hypervisor>xen</hypervisor><enaSupport>true</enaSupport>${tags ? `<tagSet>${tags}</tagSet>` : ''}</item>`;
}

/** The EC2 Query API over the fleet's launch templates and images. */
export class SimEc2 {
  constructor(private readonly state: () => Ec2State) {}

  handle(form: URLSearchParams, region: string, account: string | undefined, now: number): AwsResponse {
    const action = form.get('Action') ?? '';
    const requestId = uuidOf('ec2', action, now, Math.random());
    try {
      const body = this.dispatch(action, form, region, account, now);
      return {
        status: 200,
        body: `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${NS}"><requestId>${requestId}</requestId>${body}</${action}Response>`,
        headers: { 'content-type': 'text/xml;charset=UTF-8' },
      };
    } catch (err) {
      if (err instanceof Ec2Error) return errorResponse(err.code, err.message, requestId);
      throw err;
    }
  }

  private dispatch(
    action: string,
    form: URLSearchParams,
    region: string,
    account: string | undefined,
    now: number,
  ): string {
    const ec2 = this.state();
    switch (action) {
      case 'DescribeLaunchTemplates': {
        const ids = list(form, 'LaunchTemplateId');
        const names = list(form, 'LaunchTemplateName');
        let found: SimLaunchTemplate[];
        if (ids.length > 0 || names.length > 0) {
          found = [];
          for (const id of ids) {
            const t = ec2.templateById(id, region, account);
            if (!t) {
              throw new Ec2Error(
                'InvalidLaunchTemplateId.NotFound',
                `The specified launch template, with template ID ${id}, does not exist.`,
              );
            }
            found.push(t);
          }
          for (const name of names) {
            const t = ec2.templateByNameIn(name, region, account);
            if (!t) {
              throw new Ec2Error(
                'InvalidLaunchTemplateName.NotFoundException',
                'At least one of the launch templates specified in the request does not exist.',
              );
            }
            found.push(t);
          }
        } else found = ec2.templatesIn(region, account);
        for (const f of filters(form)) {
          if (f.name !== 'launch-template-name') continue;
          const patterns = f.values.map(wildcard);
          found = found.filter((t) => patterns.some((p) => p.test(t.name)));
        }
        return `<launchTemplates>${found.map(renderTemplate).join('')}</launchTemplates>`;
      }
      case 'DescribeLaunchTemplateVersions': {
        const t = this.template(form, region, account);
        const asked = list(form, 'LaunchTemplateVersion');
        let versions = [...t.versions.values()];
        if (asked.length > 0) {
          versions = asked.map((raw) => this.version(t, raw));
        } else {
          const min = form.get('MinVersion');
          const max = form.get('MaxVersion');
          if (min) versions = versions.filter((v) => v.number >= Number(min));
          if (max) versions = versions.filter((v) => v.number <= Number(max));
          versions.sort((a, b) => b.number - a.number);
        }
        return `<launchTemplateVersionSet>${versions.map((v) => renderVersion(t, v)).join('')}</launchTemplateVersionSet>`;
      }
      case 'CreateLaunchTemplateVersion': {
        const t = this.template(form, region, account);
        const token = form.get('ClientToken') ?? undefined;
        const imageId = form.get('LaunchTemplateData.ImageId') ?? undefined;
        const source = form.get('SourceVersion') ?? undefined;
        const description = form.get('VersionDescription') ?? undefined;
        const fingerprint = JSON.stringify([imageId, source, description]);
        if (token !== undefined) {
          const earlier = t.tokens.get(token);
          if (earlier !== undefined) {
            const v = t.versions.get(earlier);
            if (v && tokenFingerprints.get(v) !== fingerprint) {
              throw new Ec2Error(
                'IdempotentParameterMismatch',
                'The client token you have provided is associated with a resource that is already deleted or has different parameters.',
              );
            }
            if (v) return renderVersion(t, v, 'launchTemplateVersion');
          }
        }
        const base = source !== undefined ? this.version(t, source) : undefined;
        const number = t.latestVersion + 1;
        const inherited = imageId ?? base?.imageId;
        const v: LaunchTemplateVersion = {
          number,
          ...(inherited ? { imageId: inherited } : {}),
          ...(description ? { description } : {}),
          createdAt: now,
        };
        t.versions.set(number, v);
        t.latestVersion = number;
        tokenFingerprints.set(v, fingerprint);
        if (token !== undefined) t.tokens.set(token, number);
        return renderVersion(t, v, 'launchTemplateVersion');
      }
      case 'DescribeImages':
        return `<imagesSet>${this.images(form, region, account).map(renderImage).join('')}</imagesSet>`;
      default:
        throw new Ec2Error('InvalidAction', `The action ${action} is not valid for this web service.`);
    }
  }

  private template(form: URLSearchParams, region: string, account: string | undefined): SimLaunchTemplate {
    const id = form.get('LaunchTemplateId');
    const name = form.get('LaunchTemplateName');
    if (id) {
      const t = this.state().templateById(id, region, account);
      if (!t) {
        throw new Ec2Error(
          'InvalidLaunchTemplateId.NotFound',
          `The specified launch template, with template ID ${id}, does not exist.`,
        );
      }
      return t;
    }
    if (name) {
      const t = this.state().templateByNameIn(name, region, account);
      if (!t) {
        throw new Ec2Error(
          'InvalidLaunchTemplateName.NotFoundException',
          'At least one of the launch templates specified in the request does not exist.',
        );
      }
      return t;
    }
    throw new Ec2Error(
      'MissingParameter',
      'The request must contain the parameter LaunchTemplateName or LaunchTemplateId',
    );
  }

  private version(t: SimLaunchTemplate, raw: string): LaunchTemplateVersion {
    const n = raw === '$Latest' ? t.latestVersion : raw === '$Default' ? t.defaultVersion : Number(raw);
    const v = Number.isInteger(n) ? t.versions.get(n) : undefined;
    if (!v) {
      throw new Ec2Error(
        'InvalidLaunchTemplateId.VersionNotFound',
        `Could not find launch template version ${raw} for launch template ${t.id}.`,
      );
    }
    return v;
  }

  private images(form: URLSearchParams, region: string, account: string | undefined): ImageView[] {
    const ec2 = this.state();
    const ids = list(form, 'ImageId');
    const owners = list(form, 'Owner');
    const own = (owner: string) => account === undefined || owner === account;
    let images: ImageView[];
    if (ids.length > 0) {
      images = ids.map((id) => {
        if (!/^ami-[0-9a-f]{8,17}$/.test(id)) throw new Ec2Error('InvalidAMIID.Malformed', `Invalid id: "${id}"`);
        const custom = ec2.customImage(region, id);
        const pub = custom ? undefined : publicAmis(region).get(id);
        if (custom && own(custom.owner)) return customView(custom);
        if (pub) return publicView(pub);
        throw new Ec2Error('InvalidAMIID.NotFound', `The image id '[${id}]' does not exist`);
      });
    } else {
      // Without ImageIds, EC2 lists the caller's images and the ones it may launch; the public
      // EKS images only when `amazon` (or their owner) is asked for, as listing every public AMI would.
      const wantAmazon = owners.includes('amazon') || owners.includes(AMAZON_OWNER);
      const wantSelf = owners.length === 0 || owners.some((o) => o === 'self' || /^\d{12}$/.test(o));
      images = [];
      if (wantSelf) {
        for (const i of ec2.customImages(region).values()) {
          if (!own(i.owner)) continue;
          if (owners.length > 0 && !owners.includes('self') && !owners.includes(i.owner)) continue;
          images.push(customView(i));
        }
      }
      if (wantAmazon) for (const p of publicAmis(region).values()) images.push(publicView(p));
    }
    for (const f of filters(form)) {
      const patterns = f.values.map(wildcard);
      const field = (i: ImageView): string | undefined => {
        if (f.name === 'name') return i.name;
        if (f.name === 'architecture') return i.arch;
        if (f.name === 'image-id') return i.imageId;
        if (f.name === 'owner-id') return i.owner;
        if (f.name === 'state') return 'available';
        if (f.name.startsWith('tag:')) return i.tags[f.name.slice(4)];
        throw new Ec2Error('InvalidParameterValue', `The filter '${f.name}' is invalid`);
      };
      images = images.filter((i) => {
        const value = field(i);
        return value !== undefined && patterns.some((p) => p.test(value));
      });
    }
    return images;
  }
}

/** The parameters each ClientToken's version was created with (a mismatch is IdempotentParameterMismatch). */
const tokenFingerprints = new WeakMap<LaunchTemplateVersion, string>();
