# Does not parse: Lambda reports the init error as Init<SyntaxError>.
def handler(event:, context:)
  {
end
