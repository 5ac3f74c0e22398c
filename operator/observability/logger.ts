import winston from 'winston';

/**
 * Structured JSON logs with levels (LOG_LEVEL: error, warn, info, debug). Callers pass facts as fields,
 * never a token, a webhook path or a signature: `redact` below is the net under that rule, not the rule.
 */
export type Logger = winston.Logger;

const SECRET_FIELDS = /token|secret|signature|webhookpath|authorization|password/i;

const redact = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (SECRET_FIELDS.test(key)) info[key] = '[redacted]';
  }
  return info;
});

export function createLogger(level = process.env.LOG_LEVEL ?? 'info', stream?: NodeJS.WritableStream): Logger {
  return winston.createLogger({
    level,
    format: winston.format.combine(redact(), winston.format.timestamp(), winston.format.json()),
    transports: [stream ? new winston.transports.Stream({ stream }) : new winston.transports.Console({ stderrLevels: [] })],
  });
}
