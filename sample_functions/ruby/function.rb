# A Ruby function for the ruby3.3 runtime (runtimes/ruby): Lambda calls it as handler(event:, context:).
require 'json'

$calls = 0 # module state lives as long as the execution environment, as on Lambda

def handler(event:, context:)
  $calls += 1
  puts "ruby handling #{context.aws_request_id}"
  raise ArgumentError, 'asked to fail' if event['fail']

  sleep(event['sleep']) if event['sleep']
  {
    event: event,
    calls: $calls,
    requestId: context.aws_request_id,
    functionName: context.function_name,
    functionVersion: context.function_version,
    memoryLimitInMb: context.memory_limit_in_mb,
    invokedFunctionArn: context.invoked_function_arn,
    logGroupName: context.log_group_name,
    logStreamName: context.log_stream_name,
    remainingMs: context.get_remaining_time_in_millis,
    traceId: ENV['_X_AMZN_TRACE_ID'],
    clientContext: context.client_context,
    executionEnv: ENV['AWS_EXECUTION_ENV'],
    ruby: RUBY_VERSION,
    shell: File.realpath('/bin/sh')
  }
end

# Writes an object to S3 with the AWS SDK for Ruby the runtime carries (AWS_ENDPOINT_URL points it at a
# local server).
def put_object(event:, context:)
  require 'aws-sdk-s3'
  s3 = Aws::S3::Client.new
  s3.put_object(bucket: event['bucket'], key: 'from-ruby.txt', body: "written by #{context.function_name}")
  { sdk: Aws::S3::GEM_VERSION, core: Aws::CORE_GEM_VERSION }
end

# FILE.CLASS.METHOD: a class-level method of a namespaced class.
module Greeter
  class Handler
    def self.process(event:, context:)
      { greeting: "hello #{event['name']}", via: name, requestId: context.aws_request_id }
    end
  end
end
