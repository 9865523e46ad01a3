/**
 * A Go `QueueJob` record of typical size (handler reference section 2.2): what the receiver stores
 * as a job's payload (611 bytes of JSON for an 11-digit job id).
 */
export function goQueueJob(id: number): unknown {
  return {
    type: 'WorkflowJobPayload',
    workflow_job: {
      id,
      name: 't1-with-tag-1',
      run_id: 12774640532,
      status: 'queued',
      conclusion: null,
      started_at: '2025-01-10T10:00:00Z',
      completed_at: null,
      labels: ['12774640532-0', 'anka-template:84266873-da90-4e0d-903b-ed0233471f9f', 'anka-template-tag:6c14r'],
      html_url: `https://github.com/veertuinc/anklet/actions/runs/12774640532/job/${id}`,
      workflow_name: 't1-with-tag-1',
    },
    anka_vm: { name: '', cpu_cores: 0, ram_size: 0 },
    repository: { name: 'anklet', owner: 'veertuinc', visibility: 'public', private: false },
    action: 'queued',
    paused_on: '',
    attempts: 0,
  };
}
