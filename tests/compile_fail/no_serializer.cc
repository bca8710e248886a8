// Using a record type that has no TypeSerializer must fail to compile, with an error that names
// both Brook's NoSerializerFor check and the record type. Built with
// -DBROOK_DECLARE_SERIALIZER, the same job declares the serializer and must compile.

#include <brook/brook.h>

struct UnserializableRecord {
  int x;
};

#ifdef BROOK_DECLARE_SERIALIZER
BROOK_SERIALIZABLE(UnserializableRecord, &UnserializableRecord::x);
#endif

void buildJob(brook::StreamExecutionEnvironment& env) {
  env.fromElements(UnserializableRecord{1})
      .map([](const UnserializableRecord& record) { return record.x; })
      .print();
}
