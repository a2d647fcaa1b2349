/**
 * The EC2 side of node groups: launch templates (every node group's, declared in the fleet file
 * or made up) and custom AMIs, per region and account. ec2-api.ts serves them; the node-group
 * rules read the image a launch-template version names to learn the Kubernetes minor of a
 * custom-AMI node group.
 *
 * Custom images are the ones the fleet's launch templates name plus, per region and account, a
 * fixed set of "owned" images named `acme-eks-<minor>-<arch>-<date>` and tagged
 * `kubernetes-version`, built the first time a region's images are asked for.
 */
import type { Architecture } from '../../domain/node-models';
import { ALL_MINORS } from '../ami-catalogue';
import { hexOf } from '../random';
import type { SimImage, SimLaunchTemplate } from './types';

/** Build dates of the owned custom images, oldest first. */
export const OWNED_IMAGE_DATES: readonly string[] = ['20250115', '20250301'];
const ARCHES: readonly Architecture[] = ['x86_64', 'arm64'];

/** The image ID of an owned custom image. */
export function ownedImageId(region: string, account: string, name: string): string {
  return `ami-0${hexOf(16, 'custom-ami', region, account, name)}`;
}

/** Launch templates and custom images of the whole fleet. */
export class Ec2State {
  private readonly templates = new Map<string, SimLaunchTemplate>();
  private readonly templateByName = new Map<string, SimLaunchTemplate>();
  /** Accounts with clusters in each region: whose owned images exist there. */
  private readonly accounts = new Map<string, Set<string>>();
  private readonly declaredImages = new Map<string, SimImage>();
  private readonly imagesByRegion = new Map<string, Map<string, SimImage>>();

  addAccount(region: string, account: string): void {
    let set = this.accounts.get(region);
    if (!set) this.accounts.set(region, (set = new Set()));
    set.add(account);
  }

  addTemplate(t: SimLaunchTemplate): void {
    this.templates.set(t.id, t);
    this.templateByName.set(`${t.region}|${t.account}|${t.name}`, t);
  }

  /** A launch template by ID, visible in the region (and account, when the caller has one). */
  templateById(id: string, region: string, account?: string): SimLaunchTemplate | undefined {
    const t = this.templates.get(id);
    return t && t.region === region && (account === undefined || t.account === account) ? t : undefined;
  }

  templateByNameIn(name: string, region: string, account?: string): SimLaunchTemplate | undefined {
    if (account !== undefined) return this.templateByName.get(`${region}|${account}|${name}`);
    for (const a of this.accounts.get(region) ?? []) {
      const t = this.templateByName.get(`${region}|${a}|${name}`);
      if (t) return t;
    }
    return undefined;
  }

  /** Launch templates of a region (and account), in creation order. */
  templatesIn(region: string, account?: string): SimLaunchTemplate[] {
    const out: SimLaunchTemplate[] = [];
    for (const t of this.templates.values()) {
      if (t.region === region && (account === undefined || t.account === account)) out.push(t);
    }
    return out;
  }

  /** Registers an image a fleet-file launch template names; its minor is the node group's. */
  declareImage(image: SimImage): void {
    if (!this.declaredImages.has(image.imageId)) this.declaredImages.set(image.imageId, image);
    this.imagesByRegion.delete(image.region);
  }

  /** Custom images of a region, by ID. */
  customImages(region: string): ReadonlyMap<string, SimImage> {
    let byId = this.imagesByRegion.get(region);
    if (byId) return byId;
    byId = new Map();
    for (const account of this.accounts.get(region) ?? []) {
      for (const minor of ALL_MINORS) {
        for (const arch of ARCHES) {
          for (const date of OWNED_IMAGE_DATES) {
            const name = `acme-eks-${minor}-${arch}-${date}`;
            const imageId = ownedImageId(region, account, name);
            byId.set(imageId, {
              imageId,
              name,
              region,
              owner: account,
              arch,
              minor,
              createdAt: Date.UTC(Number(date.slice(0, 4)), Number(date.slice(4, 6)) - 1, Number(date.slice(6, 8))),
              tags: { Name: name, 'kubernetes-version': minor },
            });
          }
        }
      }
    }
    // A fleet file may name one of the owned images; the owned one, with its name and tag, wins.
    for (const image of this.declaredImages.values()) {
      if (image.region === region && !byId.has(image.imageId)) byId.set(image.imageId, image);
    }
    this.imagesByRegion.set(region, byId);
    return byId;
  }

  /** A custom image of the region, if it exists. */
  customImage(region: string, imageId: string): SimImage | undefined {
    return this.customImages(region).get(imageId);
  }
}
