import { DAY } from './xero-tool-args';

const messages = (value: string) => DAY.safeParse(value).error?.issues.map((i) => i.message);

describe('Xero tool arguments: DAY', () => {
  it('takes a real calendar day', () => {
    expect(DAY.safeParse('2020-02-29').success).toBe(true);
  });

  it('says once what is wrong: the shape, or a day that does not exist', () => {
    expect(messages('31/10/2018')).toEqual(['must be a date YYYY-MM-DD']);
    expect(messages('2019-02-29')).toEqual(['must be a real date']);
    expect(messages('2018-10-32')).toEqual(['must be a real date']);
  });
});
