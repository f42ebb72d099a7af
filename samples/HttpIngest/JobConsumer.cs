using DurableQueue;

namespace HttpIngest;

/// <summary>Works the jobs off: a job whose body is "poison" fails every attempt and ends in the dead letters.</summary>
public sealed class JobConsumer(MessageQueue jobs, QueueStore store, IngestSettings settings, ILogger<JobConsumer> logger) : BackgroundService
{
    private static readonly Backoff s_retryDelay = Backoff.Exponential(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(10));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            IReadOnlyList<QueueMessage> batch;
            try
            {
                batch = await jobs.ReceiveAsync(maxMessages: 8, waitTime: TimeSpan.FromSeconds(1), cancellationToken: stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            foreach (var job in batch)
            {
                try
                {
                    if (job.GetBodyAsString() == "poison")
                    {
                        throw new InvalidOperationException("This job always fails.");
                    }

                    await Task.Delay(settings.WorkMs, CancellationToken.None);
                    // The ack and the record that the job is done commit together (a lost lease commits neither).
                    await store.ExecuteAsync(
                        tx =>
                        {
                            DoneJobs.Add(tx.Connection, job.Id.Value);
                            tx.Ack(job);
                        },
                        CancellationToken.None);
                }
                catch (InvalidOperationException ex)
                {
                    // The nack delay grows with each attempt, with full jitter; the last attempt dead-letters the job.
                    var outcome = await jobs.NackAsync(job, s_retryDelay.GetDelay(job.Attempt), ex.Message, CancellationToken.None);
                    logger.LogWarning("Job {Id} failed on attempt {Attempt}: {Outcome}", job.Id, job.Attempt, outcome);
                }
                catch (LeaseLostException)
                {
                    // Someone else has it now.
                }
            }
        }
    }
}
