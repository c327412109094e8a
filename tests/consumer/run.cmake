# Installs the ae build tree into a scratch prefix, then configures, builds and runs the consumer.
file(REMOVE_RECURSE ${AE_WORK_DIR})
function(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "consumer: '${ARGN}' failed (${rc})")
  endif()
endfunction()
step(${CMAKE_COMMAND} --install ${AE_BUILD_DIR} --prefix ${AE_WORK_DIR}/prefix)
step(${CMAKE_COMMAND} -S ${AE_CONSUMER_SOURCE} -B ${AE_WORK_DIR}/build -G ${AE_GENERATOR}
     -DCMAKE_PREFIX_PATH=${AE_WORK_DIR}/prefix -DCMAKE_BUILD_TYPE=Release
     -DCMAKE_CXX_COMPILER=${AE_CXX_COMPILER}
     "-DCMAKE_CXX_FLAGS=${AE_CXX_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${AE_LINKER_FLAGS}")
step(${CMAKE_COMMAND} --build ${AE_WORK_DIR}/build)
step(${AE_WORK_DIR}/build/consumer)
