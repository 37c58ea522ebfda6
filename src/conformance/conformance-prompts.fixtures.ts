import { Injectable } from '@nestjs/common';
import type { GetPromptResult } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { Prompt } from '../mcp/mcp.decorators';
import { TEST_PNG_BASE64 } from './conformance-media';

const SUGGESTIONS = ['paris', 'park', 'party', 'test', 'testing'];
const suggest = (prefix: string): string[] => SUGGESTIONS.filter((s) => s.startsWith(prefix));

/** The conformance suite's prompt fixtures: no arguments, string arguments, an embedded resource, an image. */
@Injectable()
export class ConformancePromptFixtures {
  @Prompt({
    name: 'test_simple_prompt',
    title: 'Simple Test Prompt',
    description: 'A simple prompt without arguments',
  })
  simple(): GetPromptResult {
    return {
      messages: [{ role: 'user', content: { type: 'text', text: 'This is a simple prompt for testing.' } }],
    };
  }

  @Prompt({
    name: 'test_prompt_with_arguments',
    title: 'Prompt With Arguments',
    description: 'A prompt with required arguments',
    args: z.object({
      arg1: z.string().describe('First test argument'),
      arg2: z.string().describe('Second test argument'),
    }),
    complete: { arg1: suggest, arg2: suggest },
  })
  withArguments(_ctx: unknown, args: { arg1: string; arg2: string }): GetPromptResult {
    return {
      messages: [
        {
          role: 'user',
          content: { type: 'text', text: `Prompt with arguments: arg1='${args.arg1}', arg2='${args.arg2}'` },
        },
      ],
    };
  }

  @Prompt({
    name: 'test_prompt_with_embedded_resource',
    title: 'Prompt With Embedded Resource',
    description: 'A prompt that includes an embedded resource',
    args: z.object({ resourceUri: z.string().describe('URI of the resource to embed') }),
  })
  withEmbeddedResource(_ctx: unknown, args: { resourceUri: string }): GetPromptResult {
    return {
      messages: [
        {
          role: 'user',
          content: {
            type: 'resource',
            resource: {
              uri: args.resourceUri,
              mimeType: 'text/plain',
              text: 'Embedded resource content for testing.',
            },
          },
        },
        { role: 'user', content: { type: 'text', text: 'Please process the embedded resource above.' } },
      ],
    };
  }

  @Prompt({
    name: 'test_prompt_with_image',
    title: 'Prompt With Image',
    description: 'A prompt that includes image content',
  })
  withImage(): GetPromptResult {
    return {
      messages: [
        { role: 'user', content: { type: 'image', data: TEST_PNG_BASE64, mimeType: 'image/png' } },
        { role: 'user', content: { type: 'text', text: 'Please analyze the image above.' } },
      ],
    };
  }
}
