import { given, nextDay, promptDay, stepLine, userPrompt } from './prompt-steps';

const issues = (value: unknown) => {
  const r = promptDay('a day').safeParse(value);
  return r.success ? [] : r.error.issues.map((i) => i.message);
};

describe('prompt steps', () => {
  it('puts a step on one line: the tool, its arguments as compact JSON, and why', () => {
    expect(
      stepLine({ tool: 'xero_list_invoices', args: { page: 2, statuses: ['PAID'] }, why: 'the next page.' }),
    ).toBe('- `xero_list_invoices` with arguments `{"page":2,"statuses":["PAID"]}`: the next page.');
  });

  it('makes one user message of the paragraphs and step lists, a blank line between them', () => {
    const steps = [
      { tool: 'a_tool', args: {}, why: 'first.' },
      { tool: 'b_tool', args: { x: 1 }, why: 'second.' },
    ];
    expect(userPrompt('A prompt', ['Intro.', steps, 'Then answer.'])).toEqual({
      description: 'A prompt',
      messages: [
        {
          role: 'user',
          content: {
            type: 'text',
            text:
              'Intro.\n\n' +
              '- `a_tool` with arguments `{}`: first.\n' +
              '- `b_tool` with arguments `{"x":1}`: second.\n\n' +
              'Then answer.',
          },
        },
      ],
    });
  });

  it('leaves out only the arguments not given: 0, false, "" and null are values', () => {
    expect(given({ a: undefined, b: 0, c: false, d: '', e: null, f: 'x' })).toEqual({
      b: 0,
      c: false,
      d: '',
      e: null,
      f: 'x',
    });
  });

  it('takes a real calendar day YYYY-MM-DD, telling a wrong format alone from a day that does not exist', () => {
    for (const day of ['2026-01-31', '2024-02-29', '2000-02-29']) expect(issues(day)).toEqual([]);
    for (const bad of ['2026-1-01', 'x2026-01-01', '2026-01-011', ' 2026-01-01', '20260101'])
      expect([bad, issues(bad)]).toEqual([bad, ['must be a date YYYY-MM-DD']]);
    for (const bad of ['2026-02-29', '2026-13-01', '2026-04-31', '1900-02-29'])
      expect([bad, issues(bad)]).toEqual([bad, ['must be a real date']]);
  });

  it('gives the next day across a month, a year and a leap day', () => {
    expect(nextDay('2026-01-31')).toBe('2026-02-01');
    expect(nextDay('2024-02-28')).toBe('2024-02-29');
    expect(nextDay('2025-12-31')).toBe('2026-01-01');
  });
});
