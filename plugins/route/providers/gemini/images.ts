/**
 * `images.generations` through Gemini's image models ("Nano Banana"), which generate with
 * `generateContent` and `responseModalities: ["IMAGE"]` (https://ai.google.dev/gemini-api/docs/image-generation).
 * Imagen's `:predict` endpoint is not used: every Imagen model on the Gemini API has been shut down
 * (https://ai.google.dev/gemini-api/docs/deprecations). `size` picks the nearest aspect ratio
 * Gemini offers (`imageConfig.aspectRatio`); one image comes per request, so `n` > 1 is rejected;
 * images come back as `b64_json`, or as a `data:` URL when `response_format: url` (the gateway
 * hosts no files).
 */
import type { Usage } from '../../../../core/context.js';
import { errors } from '../../../../core/errors.js';
import { rejectMultipleChoices, unsupportedFields, type UnsupportedParams } from '../../params.js';
import { asGeminiResponse, readUsage } from './chat-response.js';

const SUPPORTED = new Set(['model', 'prompt', 'n', 'size', 'response_format']);

/** Aspect ratios `imageConfig.aspectRatio` accepts. */
const RATIOS = ['1:1', '2:3', '3:2', '3:4', '4:3', '4:5', '5:4', '9:16', '16:9', '21:9'];

/** Withheld-image finish reasons: the client's prompt was refused, not a provider fault. */
const REFUSED = new Set(['SAFETY', 'IMAGE_SAFETY', 'PROHIBITED_CONTENT', 'IMAGE_PROHIBITED_CONTENT', 'BLOCKLIST', 'SPII', 'RECITATION', 'IMAGE_RECITATION']);

/** `1536x1024` → the closest supported ratio (`3:2`); undefined for `auto` or no size. */
export function aspectRatioFor(size: unknown): string | undefined {
  if (typeof size !== 'string' || size === 'auto') return undefined;
  const m = /^(\d+)x(\d+)$/.exec(size);
  if (!m || Number(m[1]) === 0 || Number(m[2]) === 0) throw errors.badRequest('invalid_value', `size '${size}' must look like 1024x1024.`, 'size');
  const wanted = Math.log(Number(m[1]) / Number(m[2]));
  const ratio = (r: string) => {
    const [w, h] = r.split(':').map(Number);
    return Math.abs(Math.log(w! / h!) - wanted);
  };
  return RATIOS.reduce((best, r) => (ratio(r) < ratio(best) ? r : best));
}

/** An OpenAI image generation request → a `generateContent` body asking for an image. */
export function buildImageRequest(input: Readonly<Record<string, unknown>>, mode: UnsupportedParams, provider: string): { body: Record<string, unknown>; dropped: string[] } {
  const dropped = unsupportedFields(input, SUPPORTED, mode, provider);
  rejectMultipleChoices(input, provider);
  if (typeof input['prompt'] !== 'string' || input['prompt'] === '') throw errors.badRequest('missing_prompt', "Missing required parameter: 'prompt'.", 'prompt');
  const generationConfig: Record<string, unknown> = { responseModalities: ['IMAGE'] };
  const aspectRatio = aspectRatioFor(input['size']);
  if (aspectRatio) generationConfig['imageConfig'] = { aspectRatio };
  return { body: { contents: [{ role: 'user', parts: [{ text: input['prompt'] }] }], generationConfig }, dropped };
}

/** The image parts of the answer → an OpenAI images response. */
export function parseImageResponse(input: Readonly<Record<string, unknown>>, body: unknown, provider: string): { body: unknown; usage: Usage | undefined } {
  const res = asGeminiResponse(body, provider);
  const candidate = res.candidates?.[0];
  const images = (candidate?.content?.parts ?? []).flatMap((p) => (p.inlineData?.mimeType.startsWith('image/') ? [p.inlineData] : []));
  if (images.length === 0) {
    const reason = res.promptFeedback?.blockReason ?? candidate?.finishReason;
    if (res.promptFeedback?.blockReason || (reason && REFUSED.has(reason))) {
      throw errors.badRequest('content_policy_violation', `${provider}: the image was not generated (${reason}).`, 'prompt');
    }
    throw errors.badGateway('upstream_invalid_response', `${provider}: the response holds no image${reason ? ` (finish reason ${reason})` : ''}.`);
  }
  const asUrl = input['response_format'] === 'url';
  const data = images.map((img) => (asUrl ? { url: `data:${img.mimeType};base64,${img.data}` } : { b64_json: img.data }));
  return { body: { created: Math.floor(Date.now() / 1000), data }, usage: readUsage(res.usageMetadata) };
}
