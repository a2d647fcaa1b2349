/**
 * AWS Organizations ListAccounts on the simulator's port (awsJson1_1,
 * `x-amz-target: AWSOrganizationsV20161128.ListAccounts`), so that `fleetwave discover` can walk the
 * accounts of an organization with the unmodified `@aws-sdk/client-organizations`.
 *
 * As the Organizations API reference describes it
 * (docs.aws.amazon.com/organizations/latest/APIReference/API_ListAccounts.html):
 * - only the organization's management account may call it; a member account gets
 *   AccessDeniedException. The management account is the one of the simulator's base credentials
 *   ({@link BASE_ACCOUNT}); credentials from the simulated AssumeRole are member accounts';
 * - `MaxResults` is 1–20; more accounts come with a `NextToken`, and a token the service did not
 *   issue is InvalidInputException (reason INVALID_NEXT_TOKEN);
 * - each account has `Id`, `Arn` (`arn:aws:organizations::<management>:account/<org id>/<id>`),
 *   `Email`, `Name`, `Status` (ACTIVE, SUSPENDED, PENDING_CLOSURE), `JoinedMethod` and
 *   `JoinedTimestamp` (epoch seconds in awsJson1_1).
 */
import type { AwsResponse } from './aws-misc';
import { BASE_ACCOUNT } from './aws-misc';
import { hexOf } from './random';

const JSON_11 = 'application/x-amz-json-1.1';
const TARGET_PREFIX = 'AWSOrganizationsV20161128.';

/** One member account of the simulated organization. */
export interface OrgAccount {
  id: string;
  /** Default: `account-<id>`. */
  name?: string;
  /** Default: ACTIVE. */
  status?: 'ACTIVE' | 'SUSPENDED' | 'PENDING_CLOSURE';
}

/** The simulated organization, as `startSimulator({ organization })` takes it. */
export interface OrganizationOptions {
  /**
   * Member accounts besides the management account and the accounts of the fleet's clusters
   * (which are always members). Default: none.
   */
  accounts?: OrgAccount[];
  /**
   * Accounts whose roles nobody may assume: STS AssumeRole into them answers AccessDenied, as it does
   * when a role's trust policy does not name the caller. Default: none.
   */
  denyAssumeRole?: string[];
}

function orgError(code: string, message: string, status = 400, extra: Record<string, string> = {}): AwsResponse {
  return {
    status,
    body: JSON.stringify({ __type: code, Message: message, ...extra }),
    headers: { 'content-type': JSON_11, 'x-amzn-errortype': code },
  };
}

/** Whether a request is for Organizations (it goes to the same port as everything else). */
export function isOrganizationsTarget(target: unknown): target is string {
  return typeof target === 'string' && target.startsWith(TARGET_PREFIX);
}

/** The organization: its management account and members, and the accounts whose roles are closed. */
export class SimOrganization {
  readonly id: string;
  private readonly accounts: Required<OrgAccount>[];
  private readonly denied: Set<string>;

  constructor(fleetAccounts: readonly string[], opts: OrganizationOptions = {}) {
    this.id = `o-${hexOf(10, 'organization', BASE_ACCOUNT)}`;
    const byId = new Map<string, Required<OrgAccount>>();
    const add = (a: OrgAccount) =>
      byId.set(a.id, { id: a.id, name: a.name ?? `account-${a.id}`, status: a.status ?? 'ACTIVE' });
    add({ id: BASE_ACCOUNT, name: 'management' });
    for (const id of fleetAccounts) if (!byId.has(id)) add({ id });
    for (const a of opts.accounts ?? []) {
      if (!/^\d{12}$/.test(a.id)) throw new Error(`organization account "${a.id}" is not a 12-digit account ID`);
      add(a);
    }
    this.accounts = [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
    this.denied = new Set(opts.denyAssumeRole ?? []);
  }

  /** Whether STS refuses every AssumeRole into this account. */
  deniesAssumeRole(account: string): boolean {
    return this.denied.has(account);
  }

  /** Answers an awsJson1_1 call; `callerAccount` is the signing credentials' account. */
  handle(target: string, body: unknown, callerAccount: string): AwsResponse {
    const operation = target.slice(TARGET_PREFIX.length);
    if (operation !== 'ListAccounts') {
      return orgError('UnknownOperationException', `The simulator does not implement ${target}.`);
    }
    if (callerAccount !== BASE_ACCOUNT) {
      return orgError('AccessDeniedException', "You don't have permissions to access this resource.");
    }
    const input = (body ?? {}) as Record<string, unknown>;
    const max = input.MaxResults ?? 20;
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 20) {
      return orgError('InvalidInputException', 'You provided a value that does not match the required pattern.', 400, {
        Reason: 'INVALID_INPUT',
      });
    }
    let offset = 0;
    if (typeof input.NextToken === 'string' && input.NextToken !== '') {
      const m = /^accounts:(\d+)$/.exec(Buffer.from(input.NextToken, 'base64url').toString('utf8'));
      if (!m) {
        return orgError('InvalidInputException', 'The specified token is not valid.', 400, {
          Reason: 'INVALID_NEXT_TOKEN',
        });
      }
      offset = Number(m[1]);
    }
    const page = this.accounts.slice(offset, offset + max);
    const end = offset + page.length;
    const joined = Date.UTC(2021, 0, 4) / 1000;
    return {
      status: 200,
      body: JSON.stringify({
        Accounts: page.map((a) => ({
          Id: a.id,
          Arn: `arn:aws:organizations::${BASE_ACCOUNT}:account/${this.id}/${a.id}`,
          Email: `aws+${a.id}@example.com`,
          Name: a.name,
          Status: a.status,
          JoinedMethod: a.id === BASE_ACCOUNT ? 'CREATED' : 'INVITED',
          JoinedTimestamp: joined,
        })),
        ...(end < this.accounts.length ? { NextToken: Buffer.from(`accounts:${end}`).toString('base64url') } : {}),
      }),
      headers: { 'content-type': JSON_11 },
    };
  }
}
