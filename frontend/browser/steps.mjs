export default async function steps({ tab, step, expect, shot, open, queryJson, runAndWait, setMode, devhost, log }) {
  await step('module.js loads and the config editor renders', async () => {
    await open('config');
    await tab.getByText('Save & test').waitFor();
  });
}
