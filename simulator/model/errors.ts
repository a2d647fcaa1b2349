/** The errors the simulated EKS answers with. */
/** An EKS API error: the HTTP layer renders it with `x-amzn-errortype`. */
export class EksError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly extra: Record<string, string> = {},
  ) {
    super(message);
    this.name = code;
  }
}

/** EKS error constructors, named after the exception types EKS answers with. */
export const invalidParameter = (message: string, extra?: Record<string, string>) =>
  new EksError('InvalidParameterException', 400, message, extra);
export const invalidRequest = (message: string, extra?: Record<string, string>) =>
  new EksError('InvalidRequestException', 400, message, extra);
export const inUse = (message: string, extra?: Record<string, string>) =>
  new EksError('ResourceInUseException', 409, message, extra);
export const notFound = (message: string, extra?: Record<string, string>) =>
  new EksError('ResourceNotFoundException', 404, message, extra);
