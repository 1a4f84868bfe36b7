/**
 * The parts of the Gemini API wire format this adapter reads and writes, as documented in the
 * REST reference: https://ai.google.dev/api/generate-content (GenerateContentRequest,
 * GenerateContentResponse), https://ai.google.dev/api/caching#Content (Content, Part),
 * https://ai.google.dev/api/embeddings (EmbedContent, BatchEmbedContents).
 */

/** A function the model asks to call; `args` is an object, not JSON text. */
export interface GeminiFunctionCall {
  name: string;
  args?: Record<string, unknown>;
  /** Present on some responses; echoed back on the matching `functionResponse`. */
  id?: string;
}

/** One part of a turn: exactly one of text, inline or file data, a function call or a function response. */
export interface GeminiPart {
  text?: string;
  /** Thought-summary parts (only when `includeThoughts` is asked for); never shown as content. */
  thought?: boolean;
  /** Opaque reasoning state that must go back with the part it came on (Gemini 3 function calls). */
  thoughtSignature?: string;
  inlineData?: { mimeType: string; data: string };
  fileData?: { fileUri: string; mimeType?: string };
  functionCall?: GeminiFunctionCall;
  functionResponse?: { name: string; response: Record<string, unknown>; id?: string };
}

/** One turn. `systemInstruction` is a Content without a role. */
export interface GeminiContent {
  role?: 'user' | 'model';
  parts: GeminiPart[];
}

/** Token counts; `thoughtsTokenCount` is not part of `candidatesTokenCount`. */
export interface GeminiUsageMetadata {
  promptTokenCount?: number;
  candidatesTokenCount?: number;
  totalTokenCount?: number;
  cachedContentTokenCount?: number;
  thoughtsTokenCount?: number;
  toolUsePromptTokenCount?: number;
}

/** One generated answer (several with `candidateCount`). */
export interface GeminiCandidate {
  content?: GeminiContent;
  finishReason?: string;
  index?: number;
}

/** A `GenerateContentResponse`; in a stream, each SSE event is one of these. */
export interface GeminiResponse {
  candidates?: GeminiCandidate[];
  promptFeedback?: { blockReason?: string };
  usageMetadata?: GeminiUsageMetadata;
  modelVersion?: string;
  responseId?: string;
}
